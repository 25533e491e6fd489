"""Content held for review (DESIGN ground rule 2): the upload of an item whose verdict opened a
case stays in `item_payloads` until a reviewer decides, sealed there under the vault master key
by the transaction that records the verdict; `held_content` is the one way to read it back.

A video is held the same way, but never whole in memory: `hold_video` seals its spooled file as a
stream of chunks (`item_payload_chunks`) in the verdict's transaction, and `held_stream` reads it
back chunk by chunk."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from tutela.db.chunks import read_chunks, table_of, whole, write_chunks
from tutela.detection.models import ItemPayload, ItemPayloadChunk
from tutela.errors import ConfigurationError, TamperedData
from tutela.master_key import (
    MasterKey,
    configured_master_key,
    refuse_other_keys,
    unwrap_data_key,
    wrap_data_key,
)
from tutela.messaging.crypto import (
    STREAM_CHUNK_BYTES,
    StreamSealer,
    new_data_key,
    seal,
    unseal,
    unseal_stream,
)
from tutela.settings import Settings

log = logging.getLogger("tutela.detection")


def sealing_key(settings: Settings) -> MasterKey | None:
    """The vault master key that seals content held for review, or None, with a warning in the
    log: without one, a matched upload waits for its review unencrypted."""
    master_key = configured_master_key(settings)
    if master_key is None:
        log.warning(
            "no vault master key: content of matched uploads waits for review unencrypted; "
            "set TUTELA_VAULT_KEY (tutela vault keygen)"
        )
    return master_key


def seal_held_payloads(session: Session, item_ids: Sequence[int], master_key: MasterKey) -> int:
    """Encrypt, in place and inside the caller's transaction, the plaintext payloads of
    `item_ids`, each under a fresh data key wrapped by `master_key`; return how many."""
    if not item_ids:
        return 0
    rows = session.execute(
        select(ItemPayload.item_id, ItemPayload.data).where(
            ItemPayload.item_id.in_(item_ids),
            ItemPayload.key_id.is_(None),
            ItemPayload.chunks.is_(None),  # a held video is sealed as it is written
        )
    ).all()
    if not rows:
        return 0
    # On SQLite the space the plaintext leaves is zeroed (secure_delete, see tutela.db.engine).
    sealed = []
    for item_id, data in rows:
        data_key = new_data_key()
        sealed.append(
            {
                "item_id": item_id,
                "data": seal(data_key, data, _aad(item_id)),
                "key_id": master_key.key_id,
                "wrapped_key": wrap_data_key(master_key, data_key),
            }
        )
    session.execute(update(ItemPayload), sealed)
    return len(sealed)


def is_held(session: Session, item_id: int) -> bool:
    """Whether the node still holds the item's content (sealed or not), without reading it."""
    held = session.scalar(select(ItemPayload.item_id).where(ItemPayload.item_id == item_id))
    return held is not None


def held_content(session: Session, item_id: int, master_key: MasterKey | None) -> bytes | None:
    """The content the node holds for an item, unsealed when sealed; None when it holds none.
    `master_key` is the configured vault key, None when there is none. A video held as a stream
    comes whole only when it is small (`tutela.db.chunks.WHOLE_MAX_BYTES`; NotSupported beyond:
    `held_stream` reads it)."""
    row = _held_row(session, item_id)
    if row is None:
        return None
    if row.chunks is not None:
        return whole(
            _stream_of(session, item_id, row, master_key), f"the video held for item {item_id}"
        )
    return _whole_of(item_id, row, master_key)


def held_stream(
    session: Session, item_id: int, master_key: MasterKey | None
) -> Iterator[bytes] | None:
    """The content held for an item, chunk by chunk, read through `session` and unsealed as it
    goes (TamperedData at the first chunk that fails); None when none is held. Content held
    whole comes as one chunk."""
    row = _held_row(session, item_id)
    if row is None:
        return None
    if row.chunks is None:
        content = _whole_of(item_id, row, master_key)
        return iter([content] if content else [])
    return _stream_of(session, item_id, row, master_key)


def hold_video(session: Session, item_id: int, path: Path, master_key: MasterKey | None) -> int:
    """Hold a matched video's file for its review, inside the caller's transaction (the one
    that records its verdict): sealed as a stream under a fresh data key wrapped by
    `master_key`, read from `path` one chunk at a time. Without a master key the chunks wait
    unsealed, as an image's payload does (the worker warns). Returns the bytes held."""
    with path.open("rb") as source:
        if master_key is None:
            header, key_id, wrapped_key = b"", None, None
            chunks: Iterable[bytes] = iter(lambda: source.read(STREAM_CHUNK_BYTES), b"")
            sealer = None
        else:
            data_key = new_data_key()
            sealer = StreamSealer(data_key, _aad(item_id), chunk_bytes=STREAM_CHUNK_BYTES)
            header, key_id = sealer.header, master_key.key_id
            wrapped_key = wrap_data_key(master_key, data_key)
            chunks = sealer.chunks(source)
        session.execute(
            insert(ItemPayload),
            {
                "item_id": item_id,
                "data": header,
                "key_id": key_id,
                "wrapped_key": wrapped_key,
                "chunks": 0,
            },
        )
        count, size = write_chunks(session, table_of(ItemPayloadChunk), "item_id", item_id, chunks)
    if sealer is not None:
        size = sealer.plaintext_bytes
    session.execute(update(ItemPayload).where(ItemPayload.item_id == item_id).values(chunks=count))
    return size


def row_chunks(session: Session, item_id: int) -> int | None:
    """How many chunks hold the item's held content: None when it is held whole (or not held)."""
    return session.scalar(select(ItemPayload.chunks).where(ItemPayload.item_id == item_id))


def rewrap_held_payloads(session: Session, old: MasterKey, new: MasterKey) -> int:
    """Re-wrap the data keys of held payloads from `old` to `new` inside the caller's
    transaction (a master-key rotation); the ciphertext is untouched. Returns how many."""
    refuse_other_keys(
        session, ItemPayload.key_id, old, new, "some content held for review is sealed"
    )
    rows = session.execute(
        select(ItemPayload.item_id, ItemPayload.wrapped_key)
        .where(ItemPayload.key_id == old.key_id)
        .with_for_update()
    ).all()
    rewrapped = []
    for item_id, wrapped_key in rows:
        if wrapped_key is None:
            raise TamperedData(f"the content held for item {item_id} has lost its data key")
        rewrapped.append(
            {
                "item_id": item_id,
                "key_id": new.key_id,
                "wrapped_key": wrap_data_key(new, unwrap_data_key(old, wrapped_key)),
            }
        )
    if rewrapped:
        session.execute(update(ItemPayload), rewrapped)
    return len(rows)


def _aad(item_id: int) -> bytes:
    return f"tutela-held/v1/item/{item_id}/content".encode()


@dataclass(frozen=True, slots=True)
class _HeldRow:
    data: bytes  # the payload, or a stream's header
    key_id: str | None
    wrapped_key: bytes | None
    chunks: int | None  # None: held whole


def _held_row(session: Session, item_id: int) -> _HeldRow | None:
    """The held payload's row, read once for whichever way it is then read."""
    row = session.execute(
        select(
            ItemPayload.data, ItemPayload.key_id, ItemPayload.wrapped_key, ItemPayload.chunks
        ).where(ItemPayload.item_id == item_id)
    ).one_or_none()
    return None if row is None else _HeldRow(*row)


def _whole_of(item_id: int, row: _HeldRow, master_key: MasterKey | None) -> bytes:
    """A payload held whole (an image), unsealed when sealed."""
    if row.key_id is None:
        return bytes(row.data)  # not yet hashed, or decided while no vault key was configured
    data_key = _data_key(item_id, row, master_key)
    return unseal(data_key, row.data, _aad(item_id), f"the content held for item {item_id}")


def _stream_of(
    session: Session, item_id: int, row: _HeldRow, master_key: MasterKey | None
) -> Iterator[bytes]:
    """A payload held as a stream (a video), its chunks read and unsealed as they are consumed."""
    count = row.chunks or 0
    chunks = read_chunks(session, table_of(ItemPayloadChunk), "item_id", item_id, count)
    if row.key_id is None:
        return chunks
    data_key = _data_key(item_id, row, master_key)
    return unseal_stream(
        data_key, bytes(row.data), chunks, _aad(item_id), f"the video held for item {item_id}"
    )


def _data_key(item_id: int, row: _HeldRow, master_key: MasterKey | None) -> bytes:
    """The data key of a sealed payload, unwrapped by the configured master key."""
    if row.wrapped_key is None:
        raise TamperedData(f"the content held for item {item_id} has lost its data key")
    if master_key is None:
        raise ConfigurationError(
            f"the content held for item {item_id} is sealed under vault master key {row.key_id}, "
            "but no vault key is configured: set TUTELA_VAULT_KEY or TUTELA_VAULT_KEY_FILE to it"
        )
    if row.key_id != master_key.key_id:
        raise ConfigurationError(
            f"the content held for item {item_id} is sealed under vault master key {row.key_id}, "
            f"but the configured key is {master_key.key_id}"
        )
    return unwrap_data_key(master_key, row.wrapped_key)
