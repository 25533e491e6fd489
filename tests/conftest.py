"""Shared fixtures: a fresh database per test, SQLite always and PostgreSQL when one is given.

Set TUTELA_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@localhost/postgres) to run the
database tests against PostgreSQL too: each test gets its own database, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url

from tutela.db import Database, normalise_url, open_database
from tutela.settings import Settings

POSTGRES_ENV = "TUTELA_TEST_DATABASE_URL"


CHROMIUM = Path("/usr/bin/chromium")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests need Debian's chromium (`make browser` installs it); without it they skip."""
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"needs {CHROMIUM} (make browser)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings pointing at an empty database of the parametrised kind."""
    data_dir = tmp_path / "data"
    if request.param == "sqlite":
        yield Settings(data_dir=data_dir)
        return
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    with fresh_postgres_database(server) as url:
        yield Settings(data_dir=data_dir, database_url=url)


@pytest.fixture
def one_settings(tmp_path: Path) -> Iterator[Settings]:
    """Settings for a slow end-to-end test that runs on one database only: PostgreSQL when
    TUTELA_TEST_DATABASE_URL is set (as in CI), SQLite otherwise."""
    data_dir = tmp_path / "data"
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        yield Settings(data_dir=data_dir)
        return
    with fresh_postgres_database(server) as url:
        yield Settings(data_dir=data_dir, database_url=url)


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    """An opened database with the schema at head."""
    opened = open_database(settings)
    try:
        yield opened
    finally:
        opened.close()


class fresh_postgres_database:
    """Create a uniquely named database on the server for one test; drop it afterwards."""

    def __init__(self, server_url: str) -> None:
        self.server = make_url(normalise_url(server_url))
        self.name = f"tutela_test_{uuid.uuid4().hex[:12]}"
        self.admin = create_engine(self.server, isolation_level="AUTOCOMMIT")

    def __enter__(self) -> str:
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))
        return self.server.set(database=self.name).render_as_string(hide_password=False)

    def __exit__(self, *exc: object) -> None:
        with self.admin.connect() as connection:
            log_open_connections(connection, self.name)
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def log_open_connections(connection: Connection, name: str) -> None:
    """With TUTELA_TEST_LEAK_LOG=FILE, append the test and the last query of every connection
    still open to its database when the test ends (a connection the test forgot to close)."""
    log = os.environ.get("TUTELA_TEST_LEAK_LOG")
    if not log:
        return
    rows = connection.execute(
        text("SELECT pid, state, query FROM pg_stat_activity WHERE datname = :name"),
        {"name": name},
    ).all()
    if rows:
        test = os.environ.get("PYTEST_CURRENT_TEST", "?")
        with open(log, "a", encoding="utf-8") as out:
            for pid, state, query in rows:
                out.write(f"{test}\t{pid}\t{state}\t{' '.join(str(query).split())[:200]}\n")


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Point the CLI's settings (read from the environment) at the test database."""
    monkeypatch.setenv("TUTELA_DATA_DIR", str(settings.data_dir))
    if settings.database_url:
        monkeypatch.setenv("TUTELA_DATABASE_URL", settings.database_url)
    else:
        monkeypatch.delenv("TUTELA_DATABASE_URL", raising=False)
    return settings
