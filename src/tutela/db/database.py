"""The composition root for storage: one engine, one session factory, units of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tutela.db.engine import WRITER_OPTION, create_engine_from
from tutela.db.schema import upgrade
from tutela.settings import Settings


@dataclass
class Database:
    """An engine and its sessions. `unit_of_work()` is the only place a transaction commits.

    `data_dir` is the node's data directory when it has one: files derived from the database
    (the matcher's snapshot) are kept there.
    """

    engine: Engine
    data_dir: Path | None = None
    _sessions: sessionmaker[Session] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back on error."""
        with self._sessions() as session, session.begin():
            session.connection(execution_options={WRITER_OPTION: True})
            yield session

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A session for reads only; whatever it did is rolled back."""
        with self._sessions() as session:
            yield session

    def upgrade(self) -> str:
        return upgrade(self.engine)

    def truncate_wal(self) -> bool:
        """SQLite: copy the write-ahead log into the database and cut it to nothing, so that
        pages overwritten since (deleted uploads, zeroed by secure_delete in the database file)
        do not linger in the log. True when done; False on PostgreSQL, or when readers still
        need the log (the next run does it)."""
        if self.dialect != "sqlite":
            return False
        with self.engine.connect() as connection:
            # The driver's connection, outside any transaction (a checkpoint cannot run in one).
            cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                busy, _, _ = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                cursor.close()
        return bool(busy == 0)

    def close(self) -> None:
        self.engine.dispose()


def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    """Open the configured database and bring its schema up to date (the normal start-up path)."""
    database = Database(create_engine_from(settings), data_dir=settings.data_dir)
    if migrate:
        database.upgrade()
    return database
