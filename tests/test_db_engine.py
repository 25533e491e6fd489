"""The database edge: engines from settings, migrations as the only schema path, units of work."""

from __future__ import annotations

import logging
import stat
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Table, inspect, select, text

from tutela.db import Database, create_engine_from, current_revision, head_revision, normalise_url
from tutela.errors import ConfigurationError
from tutela.indicators.models import Bank
from tutela.settings import Settings


@pytest.mark.parametrize(
    "given",
    [
        "postgresql://u@h/db",
        "postgres://u@h/db",
        "postgresql+psycopg2://u@h/db",
        "postgresql+psycopg://u@h/db",
    ],
)
def test_postgres_urls_are_pinned_to_psycopg_3(given: str) -> None:
    assert normalise_url(given) == "postgresql+psycopg://u@h/db"


def test_sqlite_file_is_created_in_the_data_directory_which_is_created(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "new" / "dir")
    engine = create_engine_from(settings)
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert (tmp_path / "new" / "dir" / "tutela.db").is_file()
    engine.dispose()


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = create_engine_from(Settings(data_dir=tmp_path))
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        busy_timeout = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
        assert busy_timeout is not None and busy_timeout >= 1000
        assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    engine.dispose()


def test_an_unsupported_database_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        create_engine_from(Settings(data_dir=tmp_path, database_url="mysql://u@h/db"))


@pytest.mark.empty_database
def test_opening_brings_the_schema_to_the_newest_migration(database: Database) -> None:
    assert current_revision(database.engine) == head_revision()
    tables = set(inspect(database.engine).get_table_names())
    assert {"banks", "indicators", "indicator_changes", "fetch_checkpoints"} <= tables


def test_upgrading_twice_changes_nothing(database: Database) -> None:
    assert database.upgrade() == head_revision()
    assert database.upgrade() == head_revision()


def test_a_unit_of_work_that_fails_leaves_nothing_behind(database: Database) -> None:
    with pytest.raises(RuntimeError), database.unit_of_work() as session:
        session.add(Bank(name="half", description="", source="", tags=[]))
        session.flush()
        raise RuntimeError("crash after the write")
    with database.reader() as session:
        assert session.scalars(select(Bank)).all() == []


def test_emptying_the_wal_leaves_no_deleted_upload_in_any_file(tmp_path: Path) -> None:
    """Deleted uploads are zeroed in the database file (secure_delete) and gone from the
    write-ahead log once `truncate_wal` has run (tutela serve does so every minute)."""
    from tutela.db.database import open_database
    from tutela.detection.items import accept_upload
    from tutela.detection.models import ItemPayload
    from tutela.enforcement.schedule import enforcement_tasks

    settings = Settings(data_dir=tmp_path)
    database = open_database(settings)
    marker = b"distinctive-upload-bytes" * 400
    accept_upload(database, "gone", {"item_id": "gone"}, marker)
    with database.unit_of_work() as session:
        session.execute(cast(Table, ItemPayload.__table__).delete())
    assert any(marker[:64] in path.read_bytes() for path in tmp_path.glob("*-wal"))
    (task,) = [t for t in enforcement_tasks(settings, database) if t.name == "wal-truncate"]
    assert task.run() is True
    for path in tmp_path.iterdir():
        if path.is_file():
            assert marker[:64] not in path.read_bytes(), path.name
    database.close()


def test_the_data_directory_is_created_0700_and_the_database_files_0600(tmp_path: Path) -> None:
    from tutela.db.database import open_database

    settings = Settings(data_dir=tmp_path / "data")
    database = open_database(settings)
    with database.unit_of_work() as session:
        session.add(Bank(name="b", description="", source="", tags=[]))
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    files = [p for p in (tmp_path / "data").iterdir() if p.name.startswith("tutela.db")]
    assert {p.name for p in files} >= {"tutela.db", "tutela.db-wal", "tutela.db-shm"}
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in files} == {p.name: 0o600 for p in files}
    database.close()


def test_an_existing_data_directory_open_to_others_is_tightened_at_start_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    (data / "keys").mkdir(parents=True)
    data.chmod(0o755)
    (data / "tutela.db").touch(mode=0o644)
    (data / "tutela.db").chmod(0o644)
    (data / "keys" / "provider-ed25519.pem").write_text("key")
    (data / "keys" / "provider-ed25519.pem").chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="tutela.db"):
        create_engine_from(Settings(data_dir=data)).dispose()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "tutela.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "keys" / "provider-ed25519.pem").stat().st_mode) == 0o600
    assert "tutela.db was open to other accounts (mode 644); now 600" in caplog.text
