"""State columns checked by the database (issue 13, one name per concept): items.status,
jobs.state, cases.status, webhook_deliveries.state, takedown_requests.state, user_notices.state
and complaints.state hold only the values of their StrEnum (tutela.detection.models,
tutela.enforcement.measure_models).

PostgreSQL gets CHECK constraints. SQLite cannot add one without rebuilding the table, and a
rebuild drops the old table, which with foreign keys on deletes every row that refers to it by
ON DELETE CASCADE (an item's jobs, matches and case, a case's decisions and measures); it gets
triggers of the same names instead, refusing any other value on insert and update, at once
whatever the table's size. Rows already there are checked first: a value outside its set stops
the upgrade, naming the table.

The values are written out here, as they were at this revision: a later value needs a later
migration (tests/test_states.py compares them with the enums).

Revision ID: 0026_states
Revises: 0025_video_queue
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026_states"
down_revision = "0025_video_queue"
branch_labels = None
depends_on = None

# (table, column) -> the values allowed, at this revision.
STATES: dict[tuple[str, str], tuple[str, ...]] = {
    ("items", "status"): ("done", "processing", "queued"),
    ("jobs", "state"): ("leased", "queued"),
    (
        "cases",
        "status",
    ): ("confirmed", "dismissed", "escalated", "open", "reversed", "second_review"),
    ("webhook_deliveries", "state"): ("delivered", "failed", "pending"),
    ("takedown_requests", "state"): ("cancelled", "confirmed", "held", "requested", "waiting"),
    ("user_notices", "state"): ("held", "released", "withdrawn"),
    ("complaints", "state"): ("open", "rejected", "upheld"),
}


def constraint_name(table: str, column: str) -> str:
    return f"ck_{table}_{column}"


def allowed(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for (table, column), values in STATES.items():
        _refuse_other_values(table, column, values)
        name = constraint_name(table, column)
        if not sqlite:
            op.create_check_constraint(name, table, allowed(column, values))
            continue
        for event, suffix in (("INSERT", "insert"), (f"UPDATE OF {column}", "update")):
            op.execute(
                f"CREATE TRIGGER {name}_{suffix} BEFORE {event} ON {table} "
                f"WHEN NEW.{column} NOT IN ({', '.join(repr(v) for v in values)}) "
                f"BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {name}'); END"
            )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column in reversed(STATES):
        name = constraint_name(table, column)
        if not sqlite:
            op.drop_constraint(name, table, type_="check")
            continue
        op.execute(f"DROP TRIGGER IF EXISTS {name}_update")
        op.execute(f"DROP TRIGGER IF EXISTS {name}_insert")


def _refuse_other_values(table: str, column: str, values: tuple[str, ...]) -> None:
    query = sa.text(f"SELECT DISTINCT {column} FROM {table} WHERE NOT ({allowed(column, values)})")
    other = sorted(str(value) for (value,) in op.get_bind().execute(query))
    if other:
        raise RuntimeError(f"{table}.{column} holds values outside its states: {other}")
