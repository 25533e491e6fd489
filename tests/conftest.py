"""Shared fixtures: a fresh database per test, SQLite always and PostgreSQL when one is given.

Set TUTELA_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@localhost/postgres) to run the
database tests against PostgreSQL too: each test gets its own database, dropped afterwards.

Each test's database starts at the newest migration, copied from one migrated once per test
process (a file copy on SQLite, CREATE DATABASE … TEMPLATE on PostgreSQL): running the migrations
for every test cost about a third of a second on SQLite and half a second on PostgreSQL. A test
that migrates by itself from nothing is marked `empty_database`.
"""

from __future__ import annotations

import os
import resource
import shutil
import time
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url

from tutela.db import Database, normalise_url, open_database
from tutela.settings import Settings

POSTGRES_ENV = "TUTELA_TEST_DATABASE_URL"


CHROMIUM = Path("/usr/bin/chromium")
# The project's shared conformance data (PDQ reference vectors): beside the checkout by default,
# elsewhere (a worktree in another folder) through TUTELA_TESTDATA.
TESTDATA = Path(
    os.environ.get("TUTELA_TESTDATA") or Path(__file__).resolve().parents[2] / "shared" / "testdata"
)


# The longest tests, in the order they should start (`--dist loadgroup` hands out tests in
# collection order, one at a time): a long test started last keeps one worker busy alone at the
# end of the run. Markers first (each of these takes tens of seconds to minutes), then the rest.
LONG_FIRST = ("slow", "fuzz", "browser")


def start_order(item: pytest.Item) -> int:
    return next(
        (rank for rank, name in enumerate(LONG_FIRST) if item.get_closest_marker(name)),
        len(LONG_FIRST),
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long tests first (see LONG_FIRST). Browser tests need Debian's chromium (`make
    browser` installs it); without it they skip."""
    items.sort(key=start_order)  # stable: within a rank, files and tests keep their order
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"needs {CHROMIUM} (make browser)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


CPU_LOG_ENV = "TUTELA_TEST_CPU_LOG"


def cpu_seconds() -> float:
    """User and system CPU of this process and of every child it has waited for (the nodes and
    commands a test starts count once the test has stopped them)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None]:
    """With TUTELA_TEST_CPU_LOG=FILE, append each test's CPU seconds and wall seconds (set-up,
    call and teardown) to FILE: CPU survives a loaded machine where --durations does not. The
    database server's own CPU is not counted."""
    log = os.environ.get(CPU_LOG_ENV)
    if not log:
        yield
        return
    cpu, wall = cpu_seconds(), time.perf_counter()
    yield
    line = f"{cpu_seconds() - cpu:.3f}\t{time.perf_counter() - wall:.3f}\t{item.nodeid}\n"
    with open(log, "a", encoding="utf-8") as out:
        out.write(line)


class MigratedTemplates:
    """Databases at the newest migration, made once per test process and copied for each test."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.sqlite: Path | None = None
        self.postgres: fresh_postgres_database | None = None

    def sqlite_copy(self, data_dir: Path) -> None:
        """Put a migrated SQLite database where Settings(data_dir=data_dir) looks for it."""
        if self.sqlite is None:
            template_dir = self.directory / "sqlite-template"
            open_database(Settings(data_dir=template_dir)).close()
            self.sqlite = template_dir / DATABASE_FILE
            assert not (template_dir / f"{DATABASE_FILE}-wal").exists()
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copy2(self.sqlite, data_dir / DATABASE_FILE)

    def postgres_template(self, server_url: str) -> str:
        """The name of a migrated PostgreSQL database to copy (no connection may stay open)."""
        if self.postgres is None:
            template = fresh_postgres_database(server_url)
            url = template.__enter__()
            open_database(Settings(data_dir=self.directory, database_url=url)).close()
            self.postgres = template
        return self.postgres.name

    def close(self) -> None:
        if self.postgres is not None:
            self.postgres.__exit__(None, None, None)


DATABASE_FILE = "tutela.db"


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedTemplates]:
    templates = MigratedTemplates(tmp_path_factory.mktemp("templates"))
    try:
        yield templates
    finally:
        templates.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_templates: MigratedTemplates
) -> Iterator[Settings]:
    """Settings pointing at a database of the parametrised kind, at the newest migration (empty
    of rows; empty of tables too for a test marked `empty_database`)."""
    empty = request.node.get_closest_marker("empty_database") is not None
    data_dir = tmp_path / "data"
    if request.param == "sqlite":
        if not empty:
            migrated_templates.sqlite_copy(data_dir)
        yield Settings(data_dir=data_dir)
        return
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    template = None if empty else migrated_templates.postgres_template(server)
    with fresh_postgres_database(server, template=template) as url:
        yield Settings(data_dir=data_dir, database_url=url)


@pytest.fixture
def one_settings(tmp_path: Path, migrated_templates: MigratedTemplates) -> Iterator[Settings]:
    """Settings for a slow end-to-end test that runs on one database only: PostgreSQL when
    TUTELA_TEST_DATABASE_URL is set (as in CI), SQLite otherwise."""
    data_dir = tmp_path / "data"
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        migrated_templates.sqlite_copy(data_dir)
        yield Settings(data_dir=data_dir)
        return
    template = migrated_templates.postgres_template(server)
    with fresh_postgres_database(server, template=template) as url:
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

    def __init__(self, server_url: str, template: str | None = None) -> None:
        self.server = make_url(normalise_url(server_url))
        self.name = f"tutela_test_{uuid.uuid4().hex[:12]}"
        self.template = template
        self.admin = create_engine(self.server, isolation_level="AUTOCOMMIT")

    def __enter__(self) -> str:
        copy = f' TEMPLATE "{self.template}"' if self.template else ""
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"{copy}'))
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
