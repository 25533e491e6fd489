"""The one way Tutela seals data at rest: AES-256-GCM under a 32-byte key, a fresh random nonce
per value, and associated data that binds each ciphertext to its row and use (a sealed value
copied to another row or column does not open there). Used by the evidence vault, content held
for review (under per-record data keys) and stored credentials (under TUTELA_SECRETS_KEY).

Wire format: the 12-byte nonce followed by the ciphertext and its 16-byte tag. Content too large
for memory (a video) is sealed the same way as a stream of chunks (`StreamSealer`,
`unseal_stream`)."""

from __future__ import annotations

import base64
import binascii
import io
import secrets
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tutela.errors import ConfigurationError, TamperedData

KEY_BYTES = 32
NONCE_BYTES = 12


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=8 * KEY_BYTES)


def key_from_base64(encoded: str | None, setting: str) -> bytes:
    """A 32-byte key given base64-encoded in the setting named `setting`."""
    if not encoded:
        raise ConfigurationError(f"{setting} is not set")
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ConfigurationError(f"{setting} is not base64") from None
    if len(key) != KEY_BYTES:
        raise ConfigurationError(f"{setting} must hold {KEY_BYTES} bytes (AES-256)")
    return key


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """A random nonce followed by the ciphertext and its tag."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, sealed: bytes, aad: bytes, what: str) -> bytes:
    """The plaintext of `seal`, or TamperedData naming `what` (never its content): the
    ciphertext was altered, belongs to another record, or the key is not the one it was sealed
    under."""
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except InvalidTag:
        raise TamperedData(
            f"{what} failed its integrity check: its ciphertext was altered or belongs to "
            "another record"
        ) from None


# -- streams ----------------------------------------------------------------------------------
# Content too large to hold in memory (videos) is sealed as a stream of chunks under the same
# key and the same associated data a single value would use. The stream's header names the
# format, the chunk size and a random 12-byte stream nonce; chunk `i` is sealed by AES-256-GCM
# under the nonce XOR i (in its last 8 bytes), with associated data = `aad`, the header, `i` and
# a final-chunk flag. So a chunk altered, moved to another position or another stream, or a
# stream cut short (its final chunk missing) or extended fails to open (TamperedData).

STREAM_MAGIC = b"TVS1"
STREAM_CHUNK_BYTES = 1024 * 1024
STREAM_HEADER_BYTES = len(STREAM_MAGIC) + 4 + NONCE_BYTES
TAG_BYTES = 16


class Readable(Protocol):
    """A binary file open for reading, or anything with its `read`."""

    def read(self, size: int = -1, /) -> bytes | None: ...


class StreamSealer:
    """Seals one stream: `header` to store beside the chunks, `chunks(source)` the sealed
    chunks in order, read from `source` one chunk at a time (never the whole in memory)."""

    def __init__(self, key: bytes, aad: bytes, *, chunk_bytes: int = STREAM_CHUNK_BYTES) -> None:
        if not 1 <= chunk_bytes < 2**32:
            raise ValueError("chunk_bytes must be between 1 and 2**32 - 1")
        self._aead = AESGCM(key)
        self._aad = aad
        self._chunk_bytes = chunk_bytes
        self._nonce = secrets.token_bytes(NONCE_BYTES)
        self.header = STREAM_MAGIC + chunk_bytes.to_bytes(4, "big") + self._nonce
        self.plaintext_bytes = 0

    def chunks(self, source: Readable) -> Iterator[bytes]:
        """Each sealed chunk; the last carries the final flag (an empty source gives one empty
        final chunk). `plaintext_bytes` counts what was read."""
        current = _read_full(source, self._chunk_bytes)
        counter = 0
        while True:
            following = _read_full(source, self._chunk_bytes) if current else b""
            final = not following
            self.plaintext_bytes += len(current)
            nonce = _chunk_nonce(self._nonce, counter)
            yield self._aead.encrypt(
                nonce, current, _chunk_aad(self._aad, self.header, counter, final)
            )
            if final:
                return
            current, counter = following, counter + 1


def unseal_stream(
    key: bytes, header: bytes, chunks: Iterable[bytes], aad: bytes, what: str
) -> Iterator[bytes]:
    """The plaintext of a sealed stream, chunk by chunk, or TamperedData naming `what` (never
    its content) at the first chunk that does not open in its place, at data after the final
    chunk, or when the chunks end before the final one (the stream was cut short)."""
    if len(header) != STREAM_HEADER_BYTES or not header.startswith(STREAM_MAGIC):
        raise TamperedData(f"{what} is not a sealed stream, or its header was altered")
    chunk_bytes = int.from_bytes(header[len(STREAM_MAGIC) : len(STREAM_MAGIC) + 4], "big")
    base_nonce = header[-NONCE_BYTES:]
    aead = AESGCM(key)
    ended = False
    counter = -1
    for counter, sealed in enumerate(chunks):
        if ended:
            raise TamperedData(f"{what} has data after its final chunk")
        nonce = _chunk_nonce(base_nonce, counter)
        # A chunk shorter than the chunk size can only be the final one; a full one is usually
        # not, and is tried as final only when it does not open as an inner chunk.
        flags = (True,) if len(sealed) < chunk_bytes + TAG_BYTES else (False, True)
        for final in flags:
            try:
                plain = aead.decrypt(nonce, sealed, _chunk_aad(aad, header, counter, final))
            except InvalidTag:
                continue
            ended = final
            break
        else:
            raise TamperedData(
                f"{what} failed its integrity check at chunk {counter}: its ciphertext was "
                "altered, reordered or belongs to another record"
            )
        yield plain
    if not ended:
        raise TamperedData(
            f"{what} was cut short: its final chunk is missing (after {counter + 1})"
        )


class ChunkReader(io.RawIOBase):
    """A readable binary file over an iterable of byte chunks, read lazily (for an HTTP upload
    or a sealer that takes a file). With its `length` known it tells it the way a file does
    (seek to the end and back to where it is), so that an upload can declare its size; it
    never seeks anywhere else."""

    def __init__(self, chunks: Iterable[bytes], length: int | None = None) -> None:
        super().__init__()
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")
        self._length = length
        self._position = 0  # bytes handed out
        self._at_end = False  # seeked to the end to learn the length

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._length is not None

    def tell(self) -> int:
        return self._length if self._at_end and self._length is not None else self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = {io.SEEK_SET: offset, io.SEEK_CUR: self.tell() + offset}.get(whence)
        if whence == io.SEEK_END and self._length is not None:
            target = self._length + offset
        if target == self._position:
            self._at_end = False
        elif target is not None and target == self._length:
            self._at_end = True
        else:
            raise io.UnsupportedOperation("a chunk stream is read forwards only")
        return target

    def readinto(self, buffer: Any) -> int:
        if self._at_end:
            return 0
        while not self._pending:
            following = next(self._chunks, None)
            if following is None:
                return 0
            self._pending = memoryview(following)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        self._position += size
        return size


def _read_full(source: Readable, size: int) -> bytes:
    """Up to `size` bytes, fewer only at the end of `source` (a pipe may return short reads)."""
    parts: list[bytes] = []
    wanted = size
    while wanted:
        part = source.read(wanted)
        if not part:
            break
        parts.append(part)
        wanted -= len(part)
    return b"".join(parts)


def _chunk_nonce(base: bytes, counter: int) -> bytes:
    if counter >= 2**32:
        raise ValueError("a sealed stream holds at most 2**32 chunks")
    tail = int.from_bytes(base[4:], "big") ^ counter
    return base[:4] + tail.to_bytes(8, "big")


def _chunk_aad(aad: bytes, header: bytes, counter: int, final: bool) -> bytes:
    return (
        aad
        + b"\x00stream\x00"
        + header
        + counter.to_bytes(8, "big")
        + (b"\x01" if final else b"\x00")
    )
