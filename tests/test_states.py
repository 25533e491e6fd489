"""State columns hold only their StrEnum's values, and the database refuses any other
(migration 0026_states: CHECK constraints on PostgreSQL, triggers of the same names on SQLite)."""

from __future__ import annotations

import importlib
from enum import StrEnum

import pytest
from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from tutela.db import Database
from tutela.db.schema import alembic_config, head_revision
from tutela.detection.models import CaseState, DeliveryState, ItemStatus, JobState
from tutela.enforcement.measure_models import ComplaintState, NoticeState, TakedownState

MIGRATION = importlib.import_module("tutela.db.migrations.versions.0026_states")
ENUMS: dict[tuple[str, str], type[StrEnum]] = {
    ("items", "status"): ItemStatus,
    ("jobs", "state"): JobState,
    ("cases", "status"): CaseState,
    ("webhook_deliveries", "state"): DeliveryState,
    ("takedown_requests", "state"): TakedownState,
    ("user_notices", "state"): NoticeState,
    ("complaints", "state"): ComplaintState,
}
AT = "2030-01-01 00:00:00"
ROWS = [
    "INSERT INTO items (id, item_ref, content_digest, status, metadata, created_at) "
    "VALUES (1, 'ref-1', '', 'done', '{}', :at)",
    "INSERT INTO jobs (id, item_id, state, attempts, created_at) VALUES (1, 1, 'queued', 0, :at)",
    "INSERT INTO cases (id, item_id, status, priority, evidence, created_at) "
    "VALUES (1, 1, 'open', 1, '[]', :at)",
    "INSERT INTO webhooks (id, url, secret, active, created_at) "
    "VALUES (1, 'https://platform.example/hook', 'a-secret-of-enough-length', true, :at)",
    "INSERT INTO webhook_deliveries (id, webhook_id, item_id, body, state, attempts, "
    "next_attempt_at, created_at) VALUES (1, 1, 1, '{}', 'pending', 0, :at, :at)",
    "INSERT INTO takedown_requests (id, case_id, item_id, item_ref, state, account_action, "
    "sends, requested_at) VALUES (1, 1, 1, 'ref-1', 'requested', 'none', 0, :at)",
    "INSERT INTO user_notices (id, case_id, item_id, item_ref, kind, body, state, hold_until, "
    "hold_reason, created_at) VALUES (1, 1, 1, 'ref-1', 'decision', '{}', 'held', :at, '', :at)",
    "INSERT INTO complaints (id, complaint_ref, case_id, item_id, grounds, state, received_at, "
    "note) VALUES (1, 'complaint-1', 1, 1, 'grounds', 'open', :at, '')",
]


def seed(connection: Connection) -> None:
    for row in ROWS:
        connection.execute(text(row), {"at": AT})


def set_state(database: Database, table: str, column: str, value: str) -> None:
    with database.engine.begin() as connection:
        connection.execute(text(f"UPDATE {table} SET {column} = :value"), {"value": value})


def test_the_migration_allows_exactly_each_enums_values() -> None:
    assert set(MIGRATION.STATES) == set(ENUMS)
    for key, states in ENUMS.items():
        assert set(MIGRATION.STATES[key]) == {state.value for state in states}, key


def test_every_state_of_each_enum_is_accepted_and_nothing_else(database: Database) -> None:
    with database.engine.begin() as connection:
        seed(connection)
    for (table, column), states in ENUMS.items():
        for state in states:
            set_state(database, table, column, state)
        with pytest.raises(IntegrityError, match=f"ck_{table}_{column}"):
            set_state(database, table, column, "not_a_state")
        with database.engine.connect() as connection:
            kept = connection.execute(text(f"SELECT {column} FROM {table}")).scalar_one()
        assert kept == list(states)[-1]


def test_a_row_written_with_another_state_is_refused(database: Database) -> None:
    with pytest.raises(IntegrityError, match="ck_items_status"), database.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO items (item_ref, content_digest, status, metadata, created_at) "
                "VALUES ('ref-2', '', 'Done', '{}', :at)"
            ),
            {"at": AT},
        )


def test_the_checks_go_with_a_downgrade_and_return_with_the_upgrade(database: Database) -> None:
    with database.engine.begin() as connection:
        seed(connection)
    command.downgrade(alembic_config(database.engine), MIGRATION.down_revision)
    set_state(database, "cases", "status", "anything")
    set_state(database, "cases", "status", "open")
    assert database.upgrade() == head_revision()
    with pytest.raises(IntegrityError):
        set_state(database, "cases", "status", "anything")


def test_an_upgrade_over_a_row_outside_its_states_stops_and_names_it(
    database: Database,
) -> None:
    with database.engine.begin() as connection:
        seed(connection)
    command.downgrade(alembic_config(database.engine), MIGRATION.down_revision)
    set_state(database, "complaints", "state", "lost")
    with pytest.raises(RuntimeError, match=r"complaints.state .*'lost'"):
        database.upgrade()
