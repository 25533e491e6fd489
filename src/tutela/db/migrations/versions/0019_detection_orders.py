"""Detection orders gate detection (Art 7-11): the table of detection bases (parts of received
detection orders, and voluntary bases an administrator sets), the basis each item's detection
and each match ran under, and the reason of a `no_match` given without matching.

A database gets one voluntary basis here, for known material on every service, set by
`installation`: detection went on as before the upgrade, and a new node's quick start works. It
is a row like any other basis (`tutela detection basis list`), and an administrator clears it
(`tutela detection basis clear`) to detect only under orders. On a node that already holds items
(an upgrade of a running provider) the upgrade also records it in the audit log.

Revision ID: 0019_detection_orders
Revises: 0018_robust
Create Date: 2026-12-03
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = "0019_detection_orders"
down_revision = "0018_robust"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DEFAULT_REASON = (
    "Default voluntary basis created at installation (tutela db upgrade): known-material "
    "detection on every service, as before detection orders existed. Clear it with "
    "`tutela detection basis clear` to detect only under detection orders."
)


def upgrade() -> None:
    bases = op.create_table(
        "detection_bases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("order_id", BIG_ID, nullable=True),
        sa.Column("order_ref", sa.String(length=64), nullable=True),
        sa.Column("authority", sa.String(length=128), nullable=True),
        sa.Column("service", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("starts_at", WHEN, nullable=False),
        sa.Column("ends_at", WHEN, nullable=True),
        sa.Column("set_by", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("cleared_at", WHEN, nullable=True),
        sa.Column("cleared_by", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["received_orders.id"],
            name=op.f("fk_detection_bases_order_id_received_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detection_bases")),
    )
    op.create_index(
        "ix_detection_bases_service_kind", "detection_bases", ["service", "kind"], unique=False
    )
    # Plain columns (no foreign keys): adding one to SQLite's items table would copy the table.
    op.add_column("items", sa.Column("detection_basis_id", sa.Integer(), nullable=True))
    op.add_column("items", sa.Column("verdict_reason", sa.String(length=32), nullable=True))
    op.add_column("item_matches", sa.Column("basis_id", sa.Integer(), nullable=True))
    _default_basis(bases)


def _default_basis(bases: sa.Table) -> None:
    from tutela.db.types import UtcDateTime

    now = datetime.now(UTC)
    typed = sa.table(
        "detection_bases",
        sa.column("source", sa.String()),
        sa.column("service", sa.String()),
        sa.column("kind", sa.String()),
        sa.column("starts_at", UtcDateTime()),
        sa.column("set_by", sa.String()),
        sa.column("reason", sa.Text()),
        sa.column("created_at", UtcDateTime()),
    )
    bind = op.get_bind()
    bind.execute(
        sa.insert(typed).values(
            source="voluntary",
            service="*",
            kind="known",
            starts_at=now,
            set_by="installation",
            reason=DEFAULT_REASON,
            created_at=now,
        )
    )
    if bind.execute(sa.text("SELECT id FROM items LIMIT 1")).first() is None:
        return  # a new database: no detection ran before, nothing to account for
    from tutela.audit.log import Subject, record

    basis_id = bind.execute(sa.select(sa.func.max(bases.c.id))).scalar_one()
    with Session(bind=bind) as session:
        record(
            session,
            "system",
            "detection_basis_set",
            Subject("detection_basis", str(basis_id)),
            {"source": "voluntary", "service": "*", "kind": "known", "reason": DEFAULT_REASON},
            now=now,
        )
        session.flush()


def downgrade() -> None:
    with op.batch_alter_table("item_matches") as batch:
        batch.drop_column("basis_id")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("verdict_reason")
        batch.drop_column("detection_basis_id")
    op.drop_index("ix_detection_bases_service_kind", table_name="detection_bases")
    op.drop_table("detection_bases")
