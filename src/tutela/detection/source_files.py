"""Reading the files a backlog scan's sources name, each within the media limits: a local path,
an http(s) URL (GET over the project's HTTP client, to public addresses only unless
TUTELA_SCAN_ALLOW_PRIVATE, never following a redirect), or an object of S3-compatible storage
(tutela.detection.object_storage). A download is cut off as soon as it passes max_bytes and when
it takes longer than TUTELA_SCAN_FETCH_TIMEOUT_S, however slowly the bytes trickle.

A file whose first bytes show a video (MP4/MOV, WebM/MKV, AVI) is not read into memory when the
caller gives a spool directory (`fetch`): a download is streamed into a private file there within
max_video_bytes, and a local video is hashed where it lies (`SpooledVideo`), as the local scan
does; anything else is read whole within max_bytes.

Every failure is the file's own typed error, its verdict: `unreadable` (gone, refused, an answer
other than 200, a connection that failed), `too_large`, `timeout`, `refused_target` (a URL at a
private address); nothing a remote server sends stops the scan.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import httpx

from tutela.detection.hasher import HashJob
from tutela.detection.object_storage import S3Client, S3Config, S3Location
from tutela.detection.verdicts import Outcome
from tutela.egress import PinnedTransport
from tutela.errors import (
    DecodeTimeout,
    MediaTooLarge,
    NotSupported,
    RefusedTarget,
    TutelaError,
    Unreadable,
)
from tutela.media.formats import is_video_file, sniff_video
from tutela.media.limits import MediaLimits
from tutela.messaging.http import open_client
from tutela.settings import Settings

# The bytes as stored: a compressed answer is not inflated here (a bomb), it is what is hashed.
IDENTITY = {"Accept-Encoding": "identity"}
# A file's first bytes that tell a video container (tutela.media.formats.sniff_video).
SNIFF_BYTES = 16


@dataclass(frozen=True, slots=True)
class SpooledVideo:
    """A listed file that is a video, on disk for its hashing process: the local file itself, or
    a download's private copy in the spool (`temporary`: removed by `discard`)."""

    path: Path
    temporary: bool

    def discard(self) -> None:
        if self.temporary:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


def is_url(path: str) -> bool:
    """True for a listed http(s) URL or S3 object, which is fetched, not opened."""
    return path.lower().startswith(("http://", "https://", "s3://"))


@dataclass(frozen=True, slots=True)
class SourceAccess:
    """How a scan reaches remote files (TUTELA_SCAN_*, TUTELA_S3_*). Small and hashable: it
    travels to Ray tasks by value."""

    allow_private: bool
    fetch_timeout_s: float
    s3: S3Config

    @classmethod
    def of(cls, settings: Settings) -> SourceAccess:
        return cls(
            allow_private=settings.scan_allow_private,
            fetch_timeout_s=settings.scan_fetch_timeout_s,
            s3=S3Config(
                endpoint_url=settings.s3_endpoint_url,
                region=settings.s3_region,
                access_key_id=settings.s3_access_key_id,
                secret_access_key=settings.s3_secret_access_key,
            ),
        )


# The settings' defaults: public addresses only, a minute a file, AWS S3 without a key.
DEFAULT_ACCESS = SourceAccess(False, 60.0, S3Config(None, "us-east-1", None, None))


class SourceReader:
    """Reads listed files' bytes (`read`); holds the HTTP clients it makes, closed on exit."""

    def __init__(
        self,
        access: SourceAccess,
        *,
        web: httpx.Client | None = None,
        storage: httpx.Client | None = None,
    ) -> None:
        self.access = access
        self._web = web
        self._storage = storage
        self._owned: list[httpx.Client] = []
        self._s3: S3Client | None = None

    def __enter__(self) -> SourceReader:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        for client in self._owned:
            client.close()
        self._owned.clear()

    def _storage_client(self) -> httpx.Client:
        # The object store's endpoint is the operator's setting, not a listing's: no address check.
        if self._storage is None:
            self._storage = open_client(self.access.fetch_timeout_s)
            self._owned.append(self._storage)
        return self._storage

    def s3(self) -> S3Client:
        """The object store's client (listing and reading objects)."""
        if self._s3 is None:
            self._s3 = S3Client(self.access.s3, self._storage_client())
        return self._s3

    def _web_client(self) -> httpx.Client:
        if self._web is None:
            transport = None if self.access.allow_private else PinnedTransport()
            self._web = open_client(self.access.fetch_timeout_s, transport=transport)
            self._owned.append(self._web)
        return self._web

    def read(self, path: str, size: int, limits: MediaLimits) -> bytes:
        """The file's bytes; its typed error when it cannot be read within `limits` (a known
        `size` over max_bytes is not read at all; a negative size is unknown)."""
        data = self.fetch(path, size, limits, None)
        assert isinstance(data, bytes), "without a spool nothing is spooled"
        return data

    def fetch(
        self, path: str, size: int, limits: MediaLimits, spool: Path | None
    ) -> bytes | SpooledVideo:
        """`read`, except that with a `spool` directory a video (known by its first bytes) is
        not read into memory: a download is streamed into a private file there, a local file is
        named where it lies, each within max_video_bytes."""
        ceiling = _ceiling(limits, spool)
        if size > ceiling:
            raise MediaTooLarge(f"the file is over the limit of {ceiling} bytes")
        lowered = path.lower()
        if lowered.startswith("s3://"):
            try:
                location = S3Location.parse(path)
            except TutelaError:
                raise Unreadable("the s3:// URL names no bucket") from None
            request = self.s3().get_object(location)
            return self._download(self._storage_client(), request, limits, spool)
        if lowered.startswith(("http://", "https://")):
            client = self._web_client()
            try:
                request = client.build_request("GET", path, headers=IDENTITY)
            except (httpx.InvalidURL, httpx.UnsupportedProtocol):
                raise Unreadable("the URL is not valid") from None
            return self._download(client, request, limits, spool)
        if "://" in path:
            raise NotSupported("only paths, file://, http(s):// and s3:// URLs are scanned")
        if spool is not None and is_video_file(path):
            try:
                on_disk = os.stat(path).st_size
            except OSError as problem:
                raise Unreadable(f"cannot read the file: {problem.strerror or 'error'}") from None
            if on_disk > limits.max_video_bytes:
                raise MediaTooLarge(f"video is over the limit of {limits.max_video_bytes} bytes")
            return SpooledVideo(Path(path), temporary=False)
        try:
            with open(path, "rb") as handle:
                data = handle.read(limits.max_bytes + 1)
        except OSError as problem:
            raise Unreadable(f"cannot read the file: {problem.strerror or 'error'}") from None
        if len(data) > limits.max_bytes:  # it grew since it was listed
            raise MediaTooLarge(f"the file is over the limit of {limits.max_bytes} bytes")
        return data

    def _download(
        self,
        client: httpx.Client,
        request: httpx.Request,
        limits: MediaLimits,
        spool: Path | None,
    ) -> bytes | SpooledVideo:
        deadline = time.monotonic() + self.access.fetch_timeout_s
        timeout = DecodeTimeout(f"fetching the file took over {self.access.fetch_timeout_s:g} s")
        try:
            response = client.send(request, stream=True)
        except RefusedTarget:
            # tutela.egress words it for webhooks; the same check, this setting.
            raise RefusedTarget(
                "the URL's host is this machine or a private, link-local or reserved address; "
                "TUTELA_SCAN_ALLOW_PRIVATE=1 allows it"
            ) from None
        except httpx.TimeoutException:
            raise timeout from None
        except httpx.HTTPError as error:
            raise Unreadable(f"cannot fetch the file: {type(error).__name__}") from None
        sink = _Sink(limits, spool)
        try:
            if response.status_code != 200:
                raise Unreadable(f"fetching the file was answered {response.status_code}")
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > sink.ceiling:
                raise MediaTooLarge(f"the file is over the limit of {sink.ceiling} bytes")
            for chunk in response.iter_raw():  # as they arrive: the deadline is checked often
                sink.add(chunk)
                if time.monotonic() > deadline:
                    raise timeout
            return sink.finish()
        except httpx.TimeoutException:
            sink.discard()
            raise timeout from None
        except httpx.HTTPError as error:
            sink.discard()
            raise Unreadable(f"the download failed: {type(error).__name__}") from None
        except BaseException:
            sink.discard()
            raise
        finally:
            response.close()


def _ceiling(limits: MediaLimits, spool: Path | None) -> int:
    """The most bytes a file may have before its kind is known: a video's limit too when
    videos are spooled."""
    return max(limits.max_bytes, limits.max_video_bytes) if spool is not None else limits.max_bytes


class _Sink:
    """Where a download's bytes go as they arrive: memory, until its first bytes show a video
    and there is a spool; then a private file in the spool. Each kind within its own limit."""

    def __init__(self, limits: MediaLimits, spool: Path | None) -> None:
        self._limits = limits
        self._spool = spool
        self.ceiling = _ceiling(limits, spool)
        self._limit = self.ceiling  # until the kind is known
        self._memory = bytearray()
        self._file: BinaryIO | None = None
        self._path: Path | None = None
        self._known = False
        self._size = 0

    def add(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._limit:
            raise self._too_large()
        if self._file is not None:
            self._file.write(chunk)
            return
        self._memory += chunk
        if not self._known and len(self._memory) >= SNIFF_BYTES:
            self._decide()

    def finish(self) -> bytes | SpooledVideo:
        if not self._known:
            self._decide()
        if self._file is None or self._path is None:
            return bytes(self._memory)
        self._file.close()
        return SpooledVideo(self._path, temporary=True)

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._path is not None:
            SpooledVideo(self._path, temporary=True).discard()

    def _decide(self) -> None:
        self._known = True
        if self._spool is None or sniff_video(bytes(self._memory[:SNIFF_BYTES])) is None:
            self._limit = self._limits.max_bytes
        else:
            self._limit = self._limits.max_video_bytes
            self._spool.mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor, name = tempfile.mkstemp(prefix="scan-", suffix=".video", dir=self._spool)
            self._path = Path(name)
            self._file = os.fdopen(descriptor, "wb")
            self._file.write(self._memory)
            self._memory = bytearray()
        if self._size > self._limit:
            raise self._too_large()

    def _too_large(self) -> MediaTooLarge:
        if self._file is not None:
            return MediaTooLarge(f"video is over the limit of {self._limit} bytes")
        return MediaTooLarge(f"the file is over the limit of {self._limit} bytes")


def read_jobs(
    reader: SourceReader,
    files: Sequence[tuple[int, str, int]],
    limits: MediaLimits,
    robust: bool,
    failed: list[tuple[int, Outcome]],
    *,
    spool: Path | None = None,
    on_video: Callable[[int, SpooledVideo], None] | None = None,
) -> Iterator[HashJob]:
    """Each (item id, path or URL, size)'s bytes as a HashJob, read as the hashing processes
    ask for the next (one file held at a time); a file that cannot be read goes to `failed`
    with its error as its outcome. With `spool` and `on_video`, a video is handed to `on_video`
    on disk as it comes (`SourceReader.fetch`) instead, before the next file is read."""
    spooling = spool if on_video is not None else None
    for item_id, path, size in files:
        try:
            data = reader.fetch(path, size, limits, spooling)
        except TutelaError as error:
            failed.append((item_id, Outcome(None, [], error.as_dict())))
            continue
        if isinstance(data, SpooledVideo):
            assert on_video is not None, "nothing is spooled without on_video"
            on_video(item_id, data)
            continue
        yield HashJob(item_id, data, robust=robust)
