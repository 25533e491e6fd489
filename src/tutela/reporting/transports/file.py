"""The `file` transport: write each report to a directory, for filing by hand elsewhere."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import ClassVar

from tutela.messaging.transports import (
    OutgoingMessage,
    SendResult,
    Transport,
    TransportContext,
)

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


class FileTransport(Transport):
    name: ClassVar[str] = "file"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def create(cls, context: TransportContext) -> FileTransport:
        directory = context.options.get("export_dir") or context.settings.data_dir / "reports"
        return cls(Path(directory))

    def send(self, message: OutgoingMessage) -> SendResult:
        # Reports can hold personal data and content: the directory is the owner's alone.
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = _SAFE_NAME.sub("_", message.idempotency_key) + ".json"
        target = self.directory / name
        temporary = target.with_suffix(".tmp")
        data = json.dumps(
            {"kind": message.kind, "idempotency_key": message.idempotency_key, **message.payload},
            ensure_ascii=False,
            indent=2,
            sort_keys=True,
        )
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # Atomic: a re-send after a crash replaces the file, never leaves half of one.
        os.replace(temporary, target)
        return SendResult(status="delivered", remote_ref=str(target))
