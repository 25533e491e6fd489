"""Reading a multipart upload as it streams in: a video to disk, never whole into memory.

The `file` part's first bytes say whether it is a video (tutela.media.video.sniff_video). A video
is written to a private file in the node's spool directory chunk by chunk; anything else stays in
memory, as before (an image's bytes never touch the disk unless it matches). The limit that
applies, `max_video_bytes` for a video, `max_bytes` for anything else, is enforced while it
streams: the upload is refused (MediaTooLarge, 413) as soon as it passes it, and what was
written is removed. Text fields are kept in memory up to `max_field_bytes` each. Every
malformation is an InvalidInput naming what is wrong; nothing of the content is quoted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from tutela.api.multipart import boundary_of
from tutela.errors import InvalidInput, MediaTooLarge
from tutela.media.video import sniff_video

MAX_PARTS = 8
_SNIFF_BYTES = 16


@dataclass
class SpooledUpload:
    """The upload: a video's file on disk (`path`, removed by `discard`) or another file's bytes
    (`data`), its size and SHA-256, and the form's text fields."""

    path: Path | None
    data: bytes | None
    size: int
    sha256: str
    fields: dict[str, str] = field(default_factory=dict)
    # The file part's filename, as the client named it ("upload" when it gave none).
    filename: str = "upload"

    @property
    def is_video(self) -> bool:
        return self.path is not None

    def read(self) -> bytes:
        return self.data if self.data is not None else b""

    def discard(self) -> None:
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


class _Form:
    """The callbacks of one multipart body: the file part to disk, text parts to memory."""

    def __init__(
        self, spool: Path, *, max_bytes: int, max_video_bytes: int, max_field_bytes: int
    ) -> None:
        self.spool = spool
        self.max_bytes = max_bytes
        self.max_video_bytes = max_video_bytes
        self.max_field_bytes = max_field_bytes
        self.fields: dict[str, str] = {}
        self.file: IO[bytes] | None = None
        self.path: Path | None = None
        self.size = 0
        self.digest = hashlib.sha256()
        self.is_video = False
        self.sniffed = False
        self.memory = bytearray()
        self.complete = False
        self.ended = False  # the closing boundary was read
        self.parts = 0
        self.files = 0
        self._header_name = b""
        self._header_value = b""
        self._name: str | None = None
        self._filename: str | None = None
        self.filename: str | None = None
        self._is_file = False
        self._text = bytearray()

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _end(self) -> None:
        self.ended = True

    def _part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise InvalidInput(f"the form has more than {MAX_PARTS} parts")
        self._name, self._is_file, self._text = None, False, bytearray()
        self._filename = None

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            kind, params = parse_options_header(self._header_value)
            if kind != b"form-data" or b"name" not in params:
                raise InvalidInput(
                    "a multipart part lacks Content-Disposition: form-data; name=..."
                )
            try:
                self._name = params[b"name"].decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput("a multipart part's name is not UTF-8") from None
            if b"filename" in params:
                self._filename = params[b"filename"].decode("utf-8", errors="replace")
        self._header_name, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        if self._name is None:
            raise InvalidInput("a multipart part lacks Content-Disposition: form-data; name=...")
        self._is_file = self._name == "file"
        if self._is_file:
            self.filename = self._filename
            self.files += 1
            if self.files > 1:
                raise InvalidInput("the form must have exactly one file field named 'file'")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if not self._is_file:
            self._text += chunk
            if len(self._text) > self.max_field_bytes:
                raise InvalidInput(
                    f"the form field {self._name!r} must be at most {self.max_field_bytes} bytes"
                )
            return
        self.size += len(chunk)
        self.digest.update(chunk)
        if not self.sniffed and len(self.memory) + len(chunk) >= _SNIFF_BYTES:
            self.sniffed = True
            self.is_video = sniff_video(bytes(self.memory + chunk[:_SNIFF_BYTES])) is not None
            if self.is_video:
                self.spool.mkdir(mode=0o700, parents=True, exist_ok=True)
                descriptor, name = tempfile.mkstemp(prefix="video-", dir=self.spool)
                self.path = Path(name)
                self.file = os.fdopen(descriptor, "wb")
                self.file.write(self.memory)
                self.memory = bytearray()
        limit = self.max_video_bytes if self.is_video else self.max_bytes
        if self.size > limit:
            kind = "video" if self.is_video else "file"
            raise MediaTooLarge(f"the {kind} is over the limit of {limit} bytes")
        if self.file is not None:
            self.file.write(chunk)
        else:
            self.memory += chunk

    def _part_end(self) -> None:
        if self._is_file:
            if self.file is not None:
                self.file.close()
            self.complete = True
            return
        assert self._name is not None
        try:
            self.fields[self._name] = self._text.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"the form field {self._name!r} is not UTF-8 text") from None

    def close(self) -> None:
        if self.file is not None and not self.file.closed:
            self.file.close()


async def spool_upload(
    request: Request,
    spool: Path,
    *,
    max_bytes: int,
    max_video_bytes: int,
    max_field_bytes: int,
) -> SpooledUpload:
    """Stream the request's multipart body: the `file` part into `spool`, within its limit."""
    boundary = boundary_of(request.headers.get("content-type", ""))
    form = _Form(
        spool, max_bytes=max_bytes, max_video_bytes=max_video_bytes, max_field_bytes=max_field_bytes
    )
    parser = MultipartParser(boundary, form.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except BaseException as error:
        form.close()
        if form.path is not None:
            with contextlib.suppress(FileNotFoundError):
                form.path.unlink()
        if isinstance(error, MultipartParseError):
            raise InvalidInput("the multipart body is malformed") from None
        raise
    form.close()
    if not (form.complete and form.ended):
        if form.path is not None:
            form.path.unlink(missing_ok=True)
        if not form.ended:
            raise InvalidInput("the multipart body ends before its closing boundary")
        raise InvalidInput("the form must have exactly one file field named 'file'")
    data = None if form.path is not None else bytes(form.memory)
    return SpooledUpload(
        form.path, data, form.size, form.digest.hexdigest(), form.fields, form.filename or "upload"
    )


async def read_capped(request: Request, max_bytes: int) -> bytes:
    """The request's body, read no further than one byte past `max_bytes` (the caller refuses
    a longer one): a route whose path takes large uploads must not read a large JSON body."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk[: max_bytes + 1 - len(body)]
        if len(body) > max_bytes:
            break
    return bytes(body)


@contextlib.contextmanager
def discarded(upload: SpooledUpload) -> Iterator[SpooledUpload]:
    """The upload, its file removed on leaving (whatever happened)."""
    try:
        yield upload
    finally:
        upload.discard()
