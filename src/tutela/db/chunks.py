"""Content stored as a stream of chunk rows (owner id, seq, data), so that a large file (a video)
is written and read one chunk at a time, never whole in memory: the rows behind content held for
review (`item_payload_chunks`) and the evidence vault's streamed records (`vault_chunks`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from tutela.errors import NotSupported

# The largest streamed content `whole` joins (a short video's report attachment); anything
# larger is read as a stream.
WHOLE_MAX_BYTES = 100 * 1024 * 1024


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
