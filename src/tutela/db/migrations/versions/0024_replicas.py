"""Answers to impediments (Art 14(5)-(6)): the provider keeps each signed answer of the authority
and when its order's clock started again; the authority keeps its answers and every round of
execution reports. (The revision id keeps the name it was reserved under.)

Revision ID: 0024_replicas
Revises: 0023_messaging
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_replicas"
down_revision = "0023_messaging"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("received_orders") as batch:
        batch.add_column(sa.Column("clock_started_at", WHEN, nullable=True))
        batch.add_column(sa.Column("answers", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "received_order_answers",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("order_id", BIG_ID, nullable=False),
        sa.Column("answer_ref", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("clarification", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["received_orders.id"],
            name=op.f("fk_received_order_answers_order_id_received_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_received_order_answers")),
        sa.UniqueConstraint(
            "order_id", "answer_ref", name=op.f("uq_received_order_answers_order_id_answer_ref")
        ),
    )
    op.create_table(
        "impediment_answers",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("order_id", BIG_ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("clarification", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(length=128), nullable=False),
        sa.Column("answered_at", WHEN, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["issued_orders.id"],
            name=op.f("fk_impediment_answers_order_id_issued_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_impediment_answers")),
        sa.UniqueConstraint(
            "order_id", "number", name=op.f("uq_impediment_answers_order_id_number")
        ),
    )
    op.create_table(
        "issued_order_reports",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("order_id", BIG_ID, nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["issued_orders.id"],
            name=op.f("fk_issued_order_reports_order_id_issued_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issued_order_reports")),
        sa.UniqueConstraint(
            "order_id", "round", name=op.f("uq_issued_order_reports_order_id_round")
        ),
    )
    # The reports recorded before this revision are each order's round 0.
    op.execute(
        "INSERT INTO issued_order_reports (order_id, round, body, signature, received_at) "
        "SELECT id, 0, report_body, report_signature, report_received_at FROM issued_orders "
        "WHERE report_body IS NOT NULL AND report_signature IS NOT NULL "
        "AND report_received_at IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_table("issued_order_reports")
    op.drop_table("impediment_answers")
    op.drop_table("received_order_answers")
    with op.batch_alter_table("received_orders") as batch:
        batch.drop_column("answers")
        batch.drop_column("clock_started_at")
