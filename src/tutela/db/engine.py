"""SQLAlchemy engines from Settings: SQLite in the data directory, or PostgreSQL when configured."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from tutela.errors import ConfigurationError
from tutela.settings import Settings

# How long a writer waits for SQLite's single write lock before giving up (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option marking a connection whose transaction will write.
WRITER_OPTION = "tutela_writer"
# The data directory and the files in it hold user data and secrets (DESIGN rule 2).
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
log = logging.getLogger("tutela.db")


def normalise_url(url: str) -> str:
    """Pin PostgreSQL URLs to the psycopg 3 driver, whatever spelling the operator used."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_engine_from(settings: Settings, **kwargs: Any) -> Engine:
    """An engine for the configured database; creates the data directory for SQLite."""
    url = normalise_url(settings.sqlalchemy_url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError("TUTELA_DATABASE_URL is not a valid database URL") from None
    if parsed.get_backend_name() == "sqlite":
        private_data_dir(settings.data_dir)
        if parsed.database and parsed.database != ":memory:":
            private_database_file(Path(parsed.database))
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _configure_sqlite)
        # pysqlite's own transaction handling skips BEGIN before reads; emit it ourselves so that a
        # unit of work reads one consistent snapshot (SQLAlchemy's documented recipe).
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise ConfigurationError(
            f"unsupported database {parsed.get_backend_name()!r}; use SQLite or PostgreSQL"
        )
    if settings.data_dir.is_dir():  # keys and the matcher's snapshot live there on PostgreSQL too
        private_data_dir(settings.data_dir)
    return create_engine(parsed, pool_pre_ping=True, **kwargs)


def private_data_dir(data_dir: Path) -> None:
    """The data directory holds user data, webhook secrets and keys: only its owner may enter it.
    Created 0700; an existing one open to others is tightened, and the log says so."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    _tighten(data_dir, PRIVATE_DIR)
    keys = data_dir / "keys"
    if keys.is_dir():
        _tighten(keys, PRIVATE_DIR)
        for key in keys.iterdir():
            if key.is_file():
                _tighten(key, PRIVATE_FILE)


def private_database_file(path: Path) -> None:
    """The SQLite file, created 0600 before SQLite opens it (SQLite gives its -wal and -shm files
    the database file's mode); existing ones open to others are tightened."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    for companion in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if companion.exists():
            _tighten(companion, PRIVATE_FILE)


def _tighten(path: Path, mode: int) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current & ~mode:
        os.chmod(path, current & mode)
        log.warning(
            "%s was open to other accounts (mode %o); now %o", path, current, current & mode
        )


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers (matchers) go on while an import writes.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # Durable at each commit in WAL mode, without an fsync per page.
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Deleted rows are zeroed, not left in free pages: uploads must not linger in the file
        # (DESIGN ground rule 2). Debian builds SQLite with it on; other builds may not.
        cursor.execute("PRAGMA secure_delete=ON")
    finally:
        cursor.close()


def _begin_sqlite(connection: Any) -> None:
    # A writer takes the write lock at BEGIN: a deferred transaction that read first could not
    # upgrade once another writer had committed (SQLITE_BUSY_SNAPSHOT), and would fail late.
    if connection.get_execution_options().get(WRITER_OPTION):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")
