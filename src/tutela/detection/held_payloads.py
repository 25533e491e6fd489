"""Content held for review (DESIGN ground rule 2): the upload of an item whose verdict opened a
case stays in `item_payloads` until a reviewer decides, sealed there under the vault master key
by the transaction that records the verdict; `held_content` is the one way to read it back.

A video is held the same way, but never whole in memory: `hold_video` seals its spooled file as a
stream of chunks (`item_payload_chunks`) in the verdict's transaction, and `held_stream` reads it
back chunk by chunk."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from tutela.detection.models import ItemPayload, ItemPayloadChunk
from tutela.errors import ConfigurationError, NotSupported, TamperedData
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
# The largest streamed content `held_content` returns whole (a short video's preview or report
# attachment); anything larger is read as a stream (`held_stream`).
WHOLE_MAX_BYTES = 100 * 1024 * 1024


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
    `master_key` is the configured vault key, None when there is none."""
    row = session.execute(
        select(
            ItemPayload.data, ItemPayload.key_id, ItemPayload.wrapped_key, ItemPayload.chunks
        ).where(ItemPayload.item_id == item_id)
    ).one_or_none()
    if row is None:
        return None
    data, key_id, wrapped_key, chunks = row
    if chunks is not None:  # a video, held as a stream: whole only when it is small
        stream = held_stream(session, item_id, master_key) or iter(())
        return whole(stream, f"the video held for item {item_id}")
    if key_id is None:
        return bytes(data)  # not yet hashed, or decided while no vault key was configured
    if wrapped_key is None:
        raise TamperedData(f"the content held for item {item_id} has lost its data key")
    if master_key is None:
        raise ConfigurationError(
            f"the content held for item {item_id} is sealed under vault master key {key_id}, "
            "but no vault key is configured: set TUTELA_VAULT_KEY or TUTELA_VAULT_KEY_FILE to it"
        )
    if key_id != master_key.key_id:
        raise ConfigurationError(
            f"the content held for item {item_id} is sealed under vault master key {key_id}, "
            f"but the configured key is {master_key.key_id}"
        )
    data_key = unwrap_data_key(master_key, wrapped_key)
    return unseal(data_key, data, _aad(item_id), f"the content held for item {item_id}")


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


def held_stream(
    session: Session, item_id: int, master_key: MasterKey | None
) -> Iterator[bytes] | None:
    """The content held for an item, chunk by chunk, read through `session` and unsealed as it
    goes (TamperedData at the first chunk that fails); None when none is held. Content held
    whole comes as one chunk."""
    row = session.execute(
        select(
            ItemPayload.data, ItemPayload.key_id, ItemPayload.wrapped_key, ItemPayload.chunks
        ).where(ItemPayload.item_id == item_id)
    ).one_or_none()
    if row is None:
        return None
    header, key_id, wrapped_key, count = row
    if count is None:
        whole_content = held_content(session, item_id, master_key)
        return iter([whole_content] if whole_content else [])
    chunks = read_chunks(session, table_of(ItemPayloadChunk), "item_id", item_id, count)
    if key_id is None:
        return chunks
    if wrapped_key is None:
        raise TamperedData(f"the content held for item {item_id} has lost its data key")
    if master_key is None or key_id != master_key.key_id:
        raise ConfigurationError(
            f"the content held for item {item_id} is sealed under vault master key {key_id}, "
            "but that key is not the one configured (TUTELA_VAULT_KEY or TUTELA_VAULT_KEY_FILE)"
        )
    data_key = unwrap_data_key(master_key, wrapped_key)
    return unseal_stream(
        data_key, bytes(header), chunks, _aad(item_id), f"the video held for item {item_id}"
    )


def write_chunks(
    session: Session, table: Table, owner: str, owner_id: int, chunks: Iterable[bytes]
) -> tuple[int, int]:
    """Insert `chunks` as rows (`owner`, seq, data) one at a time, so that no more than one is
    in memory; returns how many rows and bytes."""
    count = size = 0
    for seq, chunk in enumerate(chunks):
        session.execute(insert(table), {owner: owner_id, "seq": seq, "data": chunk})
        count, size = count + 1, size + len(chunk)
    return count, size


def read_chunks(
    session: Session, table: Table, owner: str, owner_id: int, count: int, *, start: int = 0
) -> Iterator[bytes]:
    """Rows start..count-1 of a chunked stream, one query each (one chunk in memory at a time);
    a missing row ends the iteration (a sealed stream then reports itself cut short)."""
    column = table.c[owner]
    for seq in range(start, count):
        data = session.scalar(select(table.c.data).where(column == owner_id, table.c.seq == seq))
        if data is None:
            return
        yield bytes(data)


def whole(chunks: Iterable[bytes], what: str, limit: int = WHOLE_MAX_BYTES) -> bytes:
    """A stream's chunks joined, when they come to at most `limit` bytes (NotSupported beyond:
    that content is read as a stream)."""
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise NotSupported(
                f"{what} is larger than {limit} bytes: it is read as a stream, never whole"
            )
        parts.append(chunk)
    return b"".join(parts)


def table_of(model: Any) -> Table:
    """The table of a mapped class, typed as one."""
    table: Table = model.__table__
    return table


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
