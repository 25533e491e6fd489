"""Impediments and answers travel when they happen (issue 14): the authority's table of the
impediments a provider files, each a signed message received when it is filed, and the centre's
table of the authority's answers to impediments (a clarification, or the order withdrawn),
copied to it as orders are. (The revision id is historical: it was reserved before its content
was known.)

Revision ID: 0029_reserved
Revises: 0028_vault_streams
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029_reserved"
down_revision = "0028_vault_streams"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "issued_order_impediments",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("order_id", BIG_ID, nullable=False),
        sa.Column("notice_ref", sa.String(length=160), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("item_ref", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("filed_at", WHEN, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["issued_orders.id"],
            name=op.f("fk_issued_order_impediments_order_id_issued_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issued_order_impediments")),
        sa.UniqueConstraint(
            "order_id",
            "notice_ref",
            name=op.f("uq_issued_order_impediments_order_id_notice_ref"),
        ),
    )
    op.create_table(
        "centre_order_answers",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("authority_id", sa.Integer(), nullable=False),
        sa.Column("order_ref", sa.String(length=64), nullable=False),
        sa.Column("answer_ref", sa.String(length=128), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["authority_id"],
            ["authority_keys.id"],
            name=op.f("fk_centre_order_answers_authority_id_authority_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_centre_order_answers")),
        sa.UniqueConstraint(
            "authority_id",
            "answer_ref",
            name=op.f("uq_centre_order_answers_authority_id_answer_ref"),
        ),
    )
    op.create_index(
        op.f("ix_centre_order_answers_order_ref"), "centre_order_answers", ["order_ref"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_centre_order_answers_order_ref"), table_name="centre_order_answers")
    op.drop_table("centre_order_answers")
    op.drop_table("issued_order_impediments")
