"""`tutela hash --json` output banked as it is: each line's signals become indicators.

A line is `{"path", "content_type", "signals": {"pdq": {"hash", …}, "vpdq": {"hash", …}, "md5",
"sha1", "sha256"}}`; its PDQ (a photo) or vPDQ (a video) and its exact hashes are banked, under
the file's name as external id. A line with an `error` (the file did not hash, or a video was cut
short) is a bad line and nothing of it is banked: a partial or missing perceptual hash would
bank less than the file holds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tutela.audit.log import SYSTEM
from tutela.db.database import Database
from tutela.errors import InvalidHash
from tutela.indicators.bank_audit import BankAction, record_bank_change
from tutela.indicators.banks import bank_by_name
from tutela.indicators.imports import ImportReport, open_list
from tutela.indicators.ledger import insert_indicators
from tutela.indicators.list_formats import MAX_REPORTED_BAD_LINES, BadLine, is_hash_line
from tutela.indicators.video_banks import VideoRecord, insert_videos
from tutela.signals.registry import get_signal_type
from tutela.signals.vpdq import parse_vpdq

FORMAT = "tutela-hash"
EXACT = ("md5", "sha1", "sha256")


def looks_like_hash_lines(path: Path) -> bool:
    """Whether a list file's first non-empty line is a `tutela hash --json` line."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as handle:
            for line in handle:
                if line.strip():
                    return is_hash_line(line)
    except OSError:
        return False
    return False


class _Lines:
    """The records, videos and bad lines of a file of hash lines."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.videos: list[VideoRecord] = []
        self.bad: list[BadLine] = []
        self.bad_count = 0
        self._seen: set[tuple[str, str]] = set()

    def read(self, lines: Iterable[str]) -> None:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                reason = self._line(line)
                if reason is not None:
                    self.bad_count += 1
                    if len(self.bad) < MAX_REPORTED_BAD_LINES:
                        self.bad.append(BadLine(number, reason))

    def _line(self, line: str) -> str | None:
        """Take one line; the reason it is bad, or None."""
        try:
            obj = json.loads(line)
        except ValueError:
            return "not valid JSON"
        if not is_hash_line(line):
            return "not a `tutela hash --json` line (no path and signals)"
        failure = obj.get("error")
        if failure is not None:
            code = failure.get("code") if isinstance(failure, dict) else None
            return f"the file did not hash whole ({code}): nothing of it is banked"
        signals: dict[str, Any] = obj["signals"]
        name = os.path.basename(str(obj["path"])) or None
        found: list[tuple[str, str]] = []
        try:
            for kind in ("pdq", *EXACT):
                value = signals.get(kind)
                if isinstance(value, dict):
                    value = value.get("hash")
                if value is not None:
                    if not isinstance(value, str):
                        return f"{kind} is not a string"
                    found.append((kind, get_signal_type(kind).validate(value)))
            vpdq = signals.get("vpdq")
            frames = None
            if vpdq is not None:
                text = vpdq.get("hash") if isinstance(vpdq, dict) else None
                if not isinstance(text, str):
                    return "vpdq has no hash"
                frames = parse_vpdq(text)
        except InvalidHash as error:
            return error.message
        if not found and frames is None:
            return "the line has no hash"
        for kind, value in found:
            if (kind, value) not in self._seen:
                self._seen.add((kind, value))
                self.records.append(
                    {"signal_type": kind, "value": value, "external_id": name, "metadata": None}
                )
        if frames is not None:
            self.videos.append(VideoRecord(frames, name))
        return None


def import_hash_lines(
    database: Database, bank_name: str, path: Path, *, actor: str = SYSTEM
) -> ImportReport:
    """Bank the signals of a file of `tutela hash --json` lines in one transaction."""
    read = _Lines()
    with open_list(path) as handle:
        read.read(handle)
    source = f"file:{path.name}"
    with database.unit_of_work() as session:
        bank = bank_by_name(session, bank_name)
        added = insert_indicators(session, bank.id, read.records, source=source)
        added += insert_videos(session, bank.id, read.videos, source=source)
        present = len(read.records) + len(read.videos) - added
        record_bank_change(
            session,
            actor,
            BankAction.IMPORT,
            bank_name,
            {
                "source": source,
                "format": FORMAT,
                "added": added,
                "already_present": present,
                "bad": read.bad_count,
            },
        )
    return ImportReport(bank_name, added, present, read.bad_count, read.bad)
