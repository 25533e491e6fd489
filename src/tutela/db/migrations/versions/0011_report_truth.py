"""Reports say what happened: removal, other recipients, awareness, urgency, account action; holds and takedowns.

Revision ID: 0011_report_truth
Revises: 0010_centre_replay
Create Date: 2026-12-03

The provider keeps the reviewer's report choices in the decision's effects and the takedown's
new states (waiting, held) in existing columns; the centre gains the table of providers'
signed follow-ups to their reports (removal confirmed later, case numbers, retractions).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_report_truth"
down_revision = "0010_centre_replay"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "centre_report_updates",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("report_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("signed_at", sa.String(length=40), nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["centre_providers.id"],
            name=op.f("fk_centre_report_updates_provider_id_centre_providers"),
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["centre_reports.id"],
            name=op.f("fk_centre_report_updates_report_id_centre_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_centre_report_updates")),
        sa.UniqueConstraint(
            "provider_id",
            "idempotency_key",
            name=op.f("uq_centre_report_updates_provider_id_idempotency_key"),
        ),
    )
    with op.batch_alter_table("centre_report_updates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_centre_report_updates_report_id"), ["report_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("centre_report_updates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_centre_report_updates_report_id"))
    op.drop_table("centre_report_updates")
