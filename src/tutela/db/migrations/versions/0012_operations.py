"""Operations: alerts and what the operator sees.

Revision ID: 0012_operations
Revises: 0011_report_truth
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_operations"
down_revision = "0011_report_truth"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "operator_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject_type", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.String(length=512), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("raised_at", WHEN, nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("resolved_at", WHEN, nullable=True),
        sa.Column("acknowledged_at", WHEN, nullable=True),
        sa.Column("acknowledged_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_alerts")),
        sa.UniqueConstraint(
            "kind",
            "subject_type",
            "subject_id",
            name=op.f("uq_operator_alerts_kind_subject_type_subject_id"),
        ),
    )
    op.create_index(
        "ix_operator_alerts_open",
        "operator_alerts",
        ["resolved_at", "acknowledged_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_operator_alerts_open", table_name="operator_alerts")
    op.drop_table("operator_alerts")
