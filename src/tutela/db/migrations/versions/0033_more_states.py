"""The remaining state columns checked by the database (issue 13, one name per concept), as
0026_states did for the first seven: outbox_messages.status, centre_reports.status,
ncmec_reports.state, ncmec_files.state, received_orders.state, received_order_items.state,
issued_orders.state, risk_assessments.state, risk_measures.status, statements.database_state and
review_decisions.status_after hold only the values of their StrEnum.

PostgreSQL gets CHECK constraints, SQLite triggers of the same names (a table rebuild there would
cascade-delete the rows referring to it; see 0026_states). Rows already there are checked first:
a value outside its set stops the upgrade, naming the table. The values are written out as they
are at this revision (tests/test_states.py compares them with the enums).

Revision ID: 0033_more_states
Revises: 0030_item_ref
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033_more_states"
down_revision = "0030_item_ref"
branch_labels = None
depends_on = None

# (table, column) -> the values allowed, at this revision.
STATES: dict[tuple[str, str], tuple[str, ...]] = {
    ("outbox_messages", "status"): (
        "acknowledged",
        "delivered",
        "failed",
        "forwarded",
        "information_requested",
        "queued",
        "unfounded",
    ),
    ("centre_reports", "status"): ("forwarded", "information_requested", "received", "unfounded"),
    ("ncmec_reports", "state"): ("finished", "new", "submitted", "submitting"),
    ("ncmec_files", "state"): ("described", "pending", "unavailable", "uploaded"),
    ("received_orders", "state"): (
        "ended",
        "executed",
        "impediment",
        "in_force",
        "overdue",
        "received",
        "withdrawn",
    ),
    ("received_order_items", "state"): ("disabled", "impediment", "removed", "requested"),
    ("issued_orders", "state"): ("clarified", "executed", "impediment", "sent", "withdrawn"),
    ("risk_assessments", "state"): ("draft", "signed_off"),
    ("risk_measures", "status"): ("done", "dropped", "in_progress", "planned"),
    ("statements", "database_state"): ("not_configured", "queued"),
    ("review_decisions", "status_after"): (
        "confirmed",
        "dismissed",
        "escalated",
        "open",
        "reversed",
        "second_review",
    ),
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
