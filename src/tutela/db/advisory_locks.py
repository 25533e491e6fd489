"""Node-wide mutual exclusion for work that is not claim-based (issue 18, replicas).

Several `tutela serve` processes on one PostgreSQL database are one node: each runs the same
periodic tasks (notices released, alerts raised, orders marked overdue, the centre's feed
followed…). `run_alone(database, name)` lets one process at a time run the task called `name`:
on PostgreSQL it takes a session-level advisory lock on a connection of its own and holds it
until the block ends, so a second replica that reaches the same task meanwhile skips it, and the
next run (on either replica) starts from what the first one committed. A replica that dies
mid-task loses its connection, and PostgreSQL releases the lock with it.

On SQLite, replicas are not possible (`tutela serve` refuses a second process on one database
file, see tutela.db.serve_lock), but `tutela outbox run` may run beside `tutela serve`: there the
lock is an exclusive `flock` on a file in DATA_DIR/locks, released when the block ends or the
process dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from tutela.db.database import Database
from tutela.db.engine import PRIVATE_DIR, PRIVATE_FILE

log = logging.getLogger("tutela.db")

# Advisory lock keys are one bigint; ours are the first 8 bytes of a hash of this prefix and the
# name, so that they stay clear of the change-sequence lock and of other applications' keys.
_PREFIX = b"tutela:run-alone:"


def lock_key(name: str) -> int:
    """The signed 64-bit advisory lock key for `name`."""
    digest = hashlib.blake2b(_PREFIX + name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def run_alone(database: Database, name: str) -> Iterator[bool]:
    """Yield True when this process holds the node-wide lock `name` for the block (it did not
    wait for it), False when another process holds it (skip the work)."""
    if database.dialect == "postgresql":
        with _advisory_lock(database, lock_key(name)) as acquired:
            yield acquired
    elif database.data_dir is not None:
        with _file_lock(database.data_dir / "locks", name) as acquired:
            yield acquired
    else:
        yield True


@contextmanager
def _advisory_lock(database: Database, key: int) -> Iterator[bool]:
    with database.engine.connect() as connection:
        query = text("SELECT pg_try_advisory_lock(:key)")
        acquired = bool(connection.execute(query, {"key": key}).scalar())
        connection.commit()  # nothing to keep open: the lock belongs to the session
        try:
            yield acquired
        finally:
            if acquired:
                try:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    connection.commit()
                except SQLAlchemyError:
                    # The session is gone (and its lock with it), or it is in doubt: never hand
                    # a connection that may still hold the lock back to the pool.
                    connection.invalidate()
                    log.warning("advisory lock %d: unlock failed; connection dropped", key)


@contextmanager
def _file_lock(directory: Path, name: str) -> Iterator[bool]:
    directory.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    path = directory / f"{lock_key(name) & 0xFFFF_FFFF_FFFF_FFFF:016x}.lock"
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)
