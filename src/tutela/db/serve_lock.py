"""One `tutela serve` per SQLite database: replicas need PostgreSQL (issue 18).

Replicas share their work through the database (claims, advisory locks, LISTEN/NOTIFY): a SQLite
file serves one machine and one writer at a time, so a second `tutela serve` on the same file is
refused with a message that says so, rather than left to contend for its write lock. The lock is
an exclusive `flock` on DATA_DIR/serve.lock, held while the process lives (the kernel drops it
when the process dies, however it ends). On PostgreSQL nothing is held: run as many as you like.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from tutela.db.database import Database
from tutela.db.engine import PRIVATE_DIR, PRIVATE_FILE
from tutela.errors import ConfigurationError

LOCK_FILE = "serve.lock"


@contextmanager
def one_server_on_sqlite(database: Database) -> Iterator[None]:
    """Hold the serve lock for the block on SQLite; ConfigurationError when another process
    holds it."""
    if database.dialect != "sqlite" or database.data_dir is None:
        yield
        return
    database.data_dir.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    descriptor = os.open(database.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigurationError(
                "another `tutela serve` already runs on this SQLite database "
                f"({database.data_dir}); several API replicas need PostgreSQL "
                "(set TUTELA_DATABASE_URL; see docs/replicas.md)"
            ) from None
        yield
    finally:
        os.close(descriptor)
