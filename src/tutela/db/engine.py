"""SQLAlchemy engines from Settings: SQLite in the data directory, or PostgreSQL when configured."""

from __future__ import annotations

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
        settings.data_dir.mkdir(parents=True, exist_ok=True)
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
    return create_engine(parsed, pool_pre_ping=True, **kwargs)


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
