"""Banks, indicators, the indicator change sequence and fetch checkpoints.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "banks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("pdq_threshold", sa.Integer(), nullable=False),
        sa.Column("review_distance", sa.Integer(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_banks"),
        sa.UniqueConstraint("name", name="uq_banks_name"),
    )
    op.create_table(
        "indicators",
        sa.Column("id", BIG_ID, sa.Identity(always=False), primary_key=True),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("signal_type", sa.String(32), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.Column("source", sa.String(256), nullable=True),
        sa.Column("external_id", sa.String(256), nullable=True),
        sa.Column("disabled_until", WHEN, nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_indicators"),
        sa.ForeignKeyConstraint(
            ["bank_id"], ["banks.id"], name="fk_indicators_bank_id_banks", ondelete="CASCADE"
        ),
        sa.UniqueConstraint(
            "bank_id", "signal_type", "value", name="uq_indicators_bank_id_signal_type_value"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_indicators_bank_external", "indicators", ["bank_id", "external_id"])
    op.create_table(
        "indicator_changes",
        sa.Column("seq", BIG_ID, sa.Identity(always=False), primary_key=True),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", BIG_ID, nullable=True),
        sa.Column("op", sa.String(16), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_indicator_changes"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "fetch_checkpoints",
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("exchange", sa.String(32), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("bank_id", name="pk_fetch_checkpoints"),
        sa.ForeignKeyConstraint(
            ["bank_id"],
            ["banks.id"],
            name="fk_fetch_checkpoints_bank_id_banks",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("fetch_checkpoints")
    op.drop_table("indicator_changes")
    op.drop_index("ix_indicators_bank_external", table_name="indicators")
    op.drop_table("indicators")
    op.drop_table("banks")
