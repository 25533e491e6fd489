"""Provider node: API keys, items and their queue, matches, cases, bank policies, safe list,
flood alerts, webhooks and their delivery outbox.

Revision ID: 0002_detection
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_detection"
down_revision = "0001"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("revoked_at", WHEN, nullable=True),
        sa.Column("last_used_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("name", name=op.f("uq_api_keys_name")),
    )
    op.create_index(op.f("ix_api_keys_prefix"), "api_keys", ["prefix"], unique=False)
    op.create_table(
        "flood_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", BIG_ID, nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("matches", sa.Integer(), nullable=False),
        sa.Column("window_s", sa.Integer(), nullable=False),
        sa.Column("raised_at", WHEN, nullable=False),
        sa.Column("review_only_until", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flood_alerts")),
    )
    op.create_index(
        "ix_flood_alerts_indicator_until",
        "flood_alerts",
        ["indicator_id", "review_only_until"],
        unique=False,
    )
    op.create_table(
        "items",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("item_id", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("signals", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("decided_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
        sa.UniqueConstraint("item_id", name=op.f("uq_items_item_id")),
    )
    op.create_table(
        "safelist",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signal_type", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safelist")),
        sa.UniqueConstraint("signal_type", "value", name=op.f("uq_safelist_signal_type_value")),
    )
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    op.create_table(
        "bank_policies",
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("action_pdq_distance", sa.Integer(), nullable=True),
        sa.Column("action_exact", sa.Boolean(), nullable=False),
        sa.Column("ignore_pdq_above", sa.Integer(), nullable=True),
        sa.Column("flood_count", sa.Integer(), nullable=False),
        sa.Column("flood_window_s", sa.Integer(), nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_id"],
            ["banks.id"],
            name=op.f("fk_bank_policies_bank_id_banks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("bank_id", name=op.f("pk_bank_policies")),
    )
    op.create_table(
        "cases",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("item_id", BIG_ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_cases_item_id_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("item_id", name=op.f("uq_cases_item_id")),
    )
    op.create_table(
        "item_matches",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("item_id", BIG_ID, nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("bank", sa.String(length=64), nullable=False),
        sa.Column("indicator_id", BIG_ID, nullable=False),
        sa.Column("signal_type", sa.String(length=32), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=False),
        sa.Column("variant", sa.String(length=32), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_item_matches_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_matches")),
    )
    op.create_index(
        "ix_item_matches_indicator_at", "item_matches", ["indicator_id", "created_at"], unique=False
    )
    op.create_index(op.f("ix_item_matches_item_id"), "item_matches", ["item_id"], unique=False)
    op.create_table(
        "item_payloads",
        sa.Column("item_id", BIG_ID, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_item_payloads_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_item_payloads")),
    )
    op.create_table(
        "jobs",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("item_id", BIG_ID, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("leased_by", sa.String(length=64), nullable=True),
        sa.Column("leased_until", WHEN, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_jobs_item_id_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("item_id", name=op.f("uq_jobs_item_id")),
    )
    op.create_index("ix_jobs_state_lease", "jobs", ["state", "leased_until"], unique=False)
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("item_id", BIG_ID, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", WHEN, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("delivered_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name=op.f("fk_webhook_deliveries_webhook_id_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(
        "ix_webhook_deliveries_state_due",
        "webhook_deliveries",
        ["state", "next_attempt_at"],
        unique=False,
    )
    op.create_table(
        "delivery_attempts",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("delivery_id", BIG_ID, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name=op.f("fk_delivery_attempts_delivery_id_webhook_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
    )
    op.create_index(
        op.f("ix_delivery_attempts_delivery_id"), "delivery_attempts", ["delivery_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_delivery_attempts_delivery_id"), table_name="delivery_attempts")
    op.drop_table("delivery_attempts")
    op.drop_index("ix_webhook_deliveries_state_due", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_jobs_state_lease", table_name="jobs")
    op.drop_table("jobs")
    op.drop_table("item_payloads")
    op.drop_index(op.f("ix_item_matches_item_id"), table_name="item_matches")
    op.drop_index("ix_item_matches_indicator_at", table_name="item_matches")
    op.drop_table("item_matches")
    op.drop_table("cases")
    op.drop_table("bank_policies")
    op.drop_table("webhooks")
    op.drop_table("safelist")
    op.drop_table("items")
    op.drop_index("ix_flood_alerts_indicator_until", table_name="flood_alerts")
    op.drop_table("flood_alerts")
    op.drop_index(op.f("ix_api_keys_prefix"), table_name="api_keys")
    op.drop_table("api_keys")
