"""Orders: the authority node's issued orders, the provider's received orders and their execution.

Revision ID: 0013_orders
Revises: 0012_operations
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_orders"
down_revision = "0012_operations"
branch_labels = None
depends_on = None


WHEN = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "authority_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authority_keys")),
        sa.UniqueConstraint("name", name=op.f("uq_authority_keys_name")),
        sa.UniqueConstraint("key_id", name=op.f("uq_authority_keys_key_id")),
    )
    op.create_table(
        "received_orders",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("authority_id", sa.Integer(), nullable=False),
        sa.Column("order_ref", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("signed_at", sa.String(length=40), nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.Column("deadline_at", WHEN, nullable=False),
        sa.Column("overdue_at", WHEN, nullable=True),
        sa.Column("completed_at", WHEN, nullable=True),
        sa.Column("non_disclosure_until", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["authority_id"],
            ["authority_keys.id"],
            name=op.f("fk_received_orders_authority_id_authority_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_received_orders")),
        sa.UniqueConstraint(
            "authority_id", "order_ref", name=op.f("uq_received_orders_authority_id_order_ref")
        ),
    )
    # The timed step looks for orders still running past their deadline.
    op.create_index(
        "ix_received_orders_state_deadline", "received_orders", ["state", "deadline_at"]
    )
    op.create_table(
        "received_order_items",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("order_id", BIG_ID, nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("item_id", BIG_ID, nullable=False),
        sa.Column("platform", sa.String(length=64), nullable=False),
        sa.Column("item_ref", sa.String(length=256), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("executed_at", WHEN, nullable=True),
        sa.Column("impediment", sa.String(length=32), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["received_orders.id"],
            name=op.f("fk_received_order_items_order_id_received_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_received_order_items_item_id_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_received_order_items")),
        sa.UniqueConstraint(
            "order_id", "item_id", name=op.f("uq_received_order_items_order_id_item_id")
        ),
    )
    op.create_table(
        "authority_providers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("order_url", sa.String(length=512), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("legal_representative", sa.String(length=256), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authority_providers")),
        sa.UniqueConstraint("name", name=op.f("uq_authority_providers_name")),
        sa.UniqueConstraint("key_id", name=op.f("uq_authority_providers_key_id")),
    )
    op.create_table(
        "issued_orders",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("order_ref", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("issued_by", sa.String(length=128), nullable=False),
        sa.Column("issued_at", WHEN, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("report_body", sa.Text(), nullable=True),
        sa.Column("report_signature", sa.String(length=128), nullable=True),
        sa.Column("report_received_at", WHEN, nullable=True),
        sa.Column("outcomes", sa.JSON(none_as_null=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["authority_providers.id"],
            name=op.f("fk_issued_orders_provider_id_authority_providers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issued_orders")),
        sa.UniqueConstraint("order_ref", name=op.f("uq_issued_orders_order_ref")),
    )
    op.create_table(
        "centre_order_copies",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("authority_id", sa.Integer(), nullable=False),
        sa.Column("order_ref", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=256), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["authority_id"],
            ["authority_keys.id"],
            name=op.f("fk_centre_order_copies_authority_id_authority_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_centre_order_copies")),
        sa.UniqueConstraint(
            "authority_id", "order_ref", name=op.f("uq_centre_order_copies_authority_id_order_ref")
        ),
    )


def downgrade() -> None:
    op.drop_table("centre_order_copies")
    op.drop_table("issued_orders")
    op.drop_table("authority_providers")
    op.drop_table("received_order_items")
    op.drop_index("ix_received_orders_state_deadline", table_name="received_orders")
    op.drop_table("received_orders")
    op.drop_table("authority_keys")
