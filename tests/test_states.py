"""State columns hold only their StrEnum's values, and the database refuses any other
(migrations 0026_states and 0033_more_states: CHECK constraints on PostgreSQL, triggers of the
same names on SQLite)."""

from __future__ import annotations

import importlib
import pkgutil
from enum import StrEnum

import pytest
from alembic import command
from sqlalchemy import CheckConstraint, Connection, String, Table, text
from sqlalchemy.exc import IntegrityError

import tutela
from tutela.centre.models import ReportStatus
from tutela.db import Database
from tutela.db.base import Base
from tutela.db.schema import alembic_config, head_revision
from tutela.detection.models import CaseState, DeliveryState, ItemStatus, JobState
from tutela.enforcement.measure_models import ComplaintState, NoticeState, TakedownState
from tutela.messaging.outbox_models import MessageStatus
from tutela.orders.states import IssuedState, ItemState, ReceivedState
from tutela.reporting.transports.ncmec_models import NcmecFileState, NcmecReportState
from tutela.risk.measures import MeasureStatus
from tutela.risk.models import AssessmentState
from tutela.statements.models import DatabaseCopyState

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
SECOND = importlib.import_module("tutela.db.migrations.versions.0033_more_states")
SECOND_ENUMS: dict[tuple[str, str], type[StrEnum]] = {
    ("outbox_messages", "status"): MessageStatus,
    ("centre_reports", "status"): ReportStatus,
    ("ncmec_reports", "state"): NcmecReportState,
    ("ncmec_files", "state"): NcmecFileState,
    ("received_orders", "state"): ReceivedState,
    ("received_order_items", "state"): ItemState,
    ("issued_orders", "state"): IssuedState,
    ("risk_assessments", "state"): AssessmentState,
    ("risk_measures", "status"): MeasureStatus,
    ("statements", "database_state"): DatabaseCopyState,
    ("review_decisions", "status_after"): CaseState,
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


def test_the_second_migration_allows_exactly_each_enums_values() -> None:
    assert set(SECOND.STATES) == set(SECOND_ENUMS)
    for key, states in SECOND_ENUMS.items():
        assert set(SECOND.STATES[key]) == {state.value for state in states}, key


def _tables() -> list[Table]:
    """Every table of the schema, its model modules (`*models.py`) imported."""
    for module in pkgutil.walk_packages(tutela.__path__, "tutela."):
        if module.name.rsplit(".", 1)[-1].endswith("models"):
            importlib.import_module(module.name)
    return list(Base.metadata.tables.values())


def _state_columns() -> set[tuple[str, str]]:
    """Every text column of the schema whose name says it holds a state."""
    found = set()
    for table in _tables():
        for column in table.columns:
            named = column.name in {"state", "status", "status_after"} or column.name.endswith(
                "_state"
            )
            if named and isinstance(column.type, String):
                found.add((table.name, column.name))
    return found


def test_every_state_column_is_checked_by_a_migration_and_by_its_model() -> None:
    checked = set(MIGRATION.STATES) | set(SECOND.STATES)
    assert _state_columns() == checked
    modelled = {
        (table.name, constraint.name.removeprefix(f"ck_{table.name}_"))
        for table in _tables()
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint) and isinstance(constraint.name, str)
    }
    assert checked <= modelled


def test_the_second_migrations_columns_refuse_a_value_outside_their_states(
    database: Database,
) -> None:
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO outbox_messages (id, destination, kind, payload, idempotency_key, "
                "status, attempts, next_attempt_at, created_at, status_changed_at) "
                "VALUES (1, 'centre', 'report', '{}', 'key-1', 'queued', 0, :at, :at, :at)"
            ),
            {"at": AT},
        )
        connection.execute(
            text(
                "INSERT INTO risk_assessments (id, service, version, state, summary, created_at, "
                "created_by) VALUES (1, 'chat', 1, 'draft', '', :at, 'officer')"
            ),
            {"at": AT},
        )
    for table, column, states in (
        ("outbox_messages", "status", MessageStatus),
        ("risk_assessments", "state", AssessmentState),
    ):
        for state in states:
            set_state(database, table, column, state)
        with pytest.raises(IntegrityError, match=f"ck_{table}_{column}"):
            set_state(database, table, column, "not_a_state")
    with (
        pytest.raises(IntegrityError, match="ck_outbox_messages_status"),
        database.engine.begin() as c,
    ):
        c.execute(
            text(
                "INSERT INTO outbox_messages (id, destination, kind, payload, idempotency_key, "
                "status, attempts, next_attempt_at, created_at, status_changed_at) "
                "VALUES (2, 'centre', 'report', '{}', 'key-2', 'sent', 0, :at, :at, :at)"
            ),
            {"at": AT},
        )


def test_an_upgrade_to_the_second_checks_over_a_row_outside_its_states_stops(
    database: Database,
) -> None:
    command.downgrade(alembic_config(database.engine), SECOND.down_revision)
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO risk_assessments (id, service, version, state, summary, created_at, "
                "created_by) VALUES (1, 'chat', 1, 'approved', '', :at, 'officer')"
            ),
            {"at": AT},
        )
    with pytest.raises(RuntimeError, match=r"risk_assessments.state .*'approved'"):
        database.upgrade()
    set_state(database, "risk_assessments", "state", "signed_off")
    assert database.upgrade() == head_revision()


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
