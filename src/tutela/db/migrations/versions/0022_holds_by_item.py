"""Reporting holds bind the internal item (items.id and its platform), not the platform's item id
text: two platforms on one node whose items share an id text are held apart (issue 12).

Existing holds are tied to their item as the running code does it: the report they answer
(`report_key`, the idempotency key of our report in the outbox) names its case, and the case its
item. A hold whose report is no longer in the outbox is tied to the one reported item (an item with
a case) whose id text is its `item_ref`, when there is exactly one. A hold that is neither keeps
`item_id` NULL and keeps working as before: it holds every item whose id text is its `item_ref`,
on every platform (tutela.reporting.holds). Downgrading drops the new columns; `item_ref` was kept,
so the old rule applies again to every row.

Revision ID: 0022_holds_by_item
Revises: 0021_video
Create Date: 2026-12-03
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0022_holds_by_item"
down_revision = "0021_video"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PLATFORM_MAX = 64
CENTRE = "centre"

holds = sa.table(
    "reporting_holds",
    sa.column("id", BIG_ID),
    sa.column("report_key", sa.String),
    sa.column("item_ref", sa.String),
    sa.column("item_id", BIG_ID),
    sa.column("platform", sa.String),
)
outbox = sa.table(
    "outbox_messages",
    sa.column("destination", sa.String),
    sa.column("idempotency_key", sa.String),
    sa.column("payload", sa.JSON),
)
cases = sa.table("cases", sa.column("id", BIG_ID), sa.column("item_id", BIG_ID))
items = sa.table(
    "items",
    sa.column("id", BIG_ID),
    sa.column("item_id", sa.String),
    sa.column("platform", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("reporting_holds") as batch:
        batch.add_column(sa.Column("item_id", BIG_ID, nullable=True))
        batch.add_column(sa.Column("platform", sa.String(length=PLATFORM_MAX), nullable=True))
    op.create_index(op.f("ix_reporting_holds_item_id"), "reporting_holds", ["item_id"])
    connection = op.get_bind()
    rows = connection.execute(sa.select(holds.c.id, holds.c.report_key, holds.c.item_ref)).all()
    for hold_id, report_key, item_ref in rows:
        item = _item_of_report(connection, report_key) or _only_reported_item(connection, item_ref)
        if item is not None:
            connection.execute(
                holds.update()
                .where(holds.c.id == hold_id)
                .values(item_id=item[0], platform=item[1])
            )


def downgrade() -> None:
    op.drop_index(op.f("ix_reporting_holds_item_id"), table_name="reporting_holds")
    with op.batch_alter_table("reporting_holds") as batch:
        batch.drop_column("platform")
        batch.drop_column("item_id")


def _item_of_report(connection: sa.Connection, report_key: str) -> tuple[int, str] | None:
    """report_key → our stored report → its case → the case's item (id, platform)."""
    payload = connection.scalar(
        sa.select(outbox.c.payload).where(
            outbox.c.destination == CENTRE, outbox.c.idempotency_key == report_key
        )
    )
    case_id = _case_id(payload)
    if case_id is None:
        return None
    row = connection.execute(
        sa.select(items.c.id, items.c.platform)
        .select_from(cases.join(items, items.c.id == cases.c.item_id))
        .where(cases.c.id == case_id)
    ).first()
    return None if row is None else (int(row[0]), str(row[1]))


def _only_reported_item(connection: sa.Connection, item_ref: str) -> tuple[int, str] | None:
    """The one item with a case whose id text is `item_ref`; None when there are none or several."""
    found = connection.execute(
        sa.select(items.c.id, items.c.platform)
        .select_from(items.join(cases, cases.c.item_id == items.c.id))
        .where(items.c.item_id == item_ref)
        .limit(2)
    ).all()
    return (int(found[0][0]), str(found[0][1])) if len(found) == 1 else None


def _case_id(payload: Any) -> int | None:
    """The case id in a stored report's signed body (JSON text under "body"); None if absent."""
    if isinstance(payload, str):  # a dialect that hands JSON back as text
        payload = json.loads(payload)
    body = payload.get("body") if isinstance(payload, dict) else None
    try:
        report = json.loads(body) if isinstance(body, str) else None
    except ValueError:
        return None
    decision = report.get("decision") if isinstance(report, dict) else None
    case_id = decision.get("case_id") if isinstance(decision, dict) else None
    return case_id if isinstance(case_id, int) and not isinstance(case_id, bool) else None
