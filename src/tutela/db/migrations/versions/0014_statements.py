"""Statements of reasons (DSA Art 17) for users and the DSA Transparency Database.

Revision ID: 0014_statements
Revises: 0013_orders
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_statements"
down_revision = "0013_orders"
branch_labels = None
depends_on = None


WHEN = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "statements",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("puid", sa.String(length=64), nullable=False),
        sa.Column("decision_ref", sa.String(length=128), nullable=False),
        sa.Column("case_id", BIG_ID, nullable=True),
        sa.Column("item_id", BIG_ID, nullable=False),
        sa.Column("user_copy", sa.JSON(), nullable=False),
        sa.Column("database_copy", sa.JSON(), nullable=False),
        sa.Column("notice_id", BIG_ID, nullable=True),
        sa.Column("database_state", sa.String(length=16), nullable=False),
        sa.Column("outbox_message_id", BIG_ID, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_statements_case_id_cases"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statements")),
        sa.UniqueConstraint("puid", name=op.f("uq_statements_puid")),
        sa.UniqueConstraint("decision_ref", name=op.f("uq_statements_decision_ref")),
    )
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_statements_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_statements_case_id"))
    op.drop_table("statements")
