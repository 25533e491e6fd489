"""Blocking and delisting orders: the Centre's URL list, the provider's copy of it, the URLs each
received order names, and the end of an order in force.

Revision ID: 0017_blocking
Revises: 0016_risk
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_blocking"
down_revision = "0016_risk"
branch_labels = None
depends_on = None


WHEN = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "centre_urls",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("added_by", sa.String(length=128), nullable=False),
        sa.Column("added_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_centre_urls")),
        sa.UniqueConstraint("url", name=op.f("uq_centre_urls_url")),
    )
    op.create_table(
        "listed_urls",
        sa.Column("centre_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("added_at", WHEN, nullable=False),
        sa.Column("fetched_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("centre_id", name=op.f("pk_listed_urls")),
    )
    op.create_table(
        "received_order_urls",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("order_id", BIG_ID, nullable=False),
        sa.Column("centre_id", sa.BigInteger(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["received_orders.id"],
            name=op.f("fk_received_order_urls_order_id_received_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_received_order_urls")),
        sa.UniqueConstraint(
            "order_id", "centre_id", name=op.f("uq_received_order_urls_order_id_centre_id")
        ),
    )
    with op.batch_alter_table("received_orders") as batch:
        # Art 16-18: a blocking or delisting order is in force until then (at most 5 years).
        batch.add_column(sa.Column("ends_at", WHEN, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("received_orders") as batch:
        batch.drop_column("ends_at")
    op.drop_table("received_order_urls")
    op.drop_table("listed_urls")
    op.drop_table("centre_urls")
