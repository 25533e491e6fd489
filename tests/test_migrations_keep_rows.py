"""Upgrading a populated SQLite database keeps every row: batch mode rebuilds a table by dropping
it, and with foreign keys enforced that drop once deleted every row referring to it (rebuilding
`banks` in 0018 emptied `indicators`). Migrations now run with enforcement off, check the
references before committing, and hand the connection back with enforcement on."""

from __future__ import annotations

from pathlib import Path

from tutela.db.engine import create_engine_from
from tutela.db.schema import upgrade
from tutela.settings import Settings

BANK = (
    "INSERT INTO banks (name, description, source, enabled, verified, pdq_threshold, "
    "review_distance, tags, created_at, updated_at) VALUES "
    "('known', '', 'local', 1, 1, 31, 0, '[]', '2026-01-01', '2026-01-01')"
)
INDICATOR = (
    "INSERT INTO indicators (bank_id, signal_type, value, source, external_id, metadata, "
    "created_at, updated_at) VALUES (1, 'md5', '{value}', 'local', NULL, '{{}}', "
    "'2026-01-01', '2026-01-01')"
)


def test_rebuilding_a_referenced_table_keeps_the_rows_that_refer_to_it(tmp_path: Path) -> None:
    engine = create_engine_from(Settings(data_dir=tmp_path))
    try:
        upgrade(engine, "0017_blocking")  # the next one rebuilds `banks`
        with engine.begin() as connection:
            connection.exec_driver_sql(BANK)
            for value in ("a" * 32, "b" * 32):
                connection.exec_driver_sql(INDICATOR.format(value=value))

        upgrade(engine)

        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM indicators").scalar() == 2
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
