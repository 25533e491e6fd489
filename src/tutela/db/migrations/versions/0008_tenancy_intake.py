"""Provider node: platforms own their objects (API keys, items, cases, webhooks, complaints,
deliveries); an item is (platform, item_id, SHA-256 of its content).

Rows written before this revision belong to the platform 'default', as do the API keys, so a node
upgraded in place keeps answering its platform exactly as before. Items stored before it carry
no content digest (''): a later submission under one of their item ids is a new item.

Revision ID: 0008_tenancy_intake
Revises: 0007_sealed_payloads
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_tenancy_intake"
down_revision = "0007_sealed_payloads"
branch_labels = None
depends_on = None

DEFAULT_PLATFORM = "default"
PLATFORM_MAX = 64
OWNED = ("api_keys", "items", "cases", "webhooks", "webhook_deliveries", "complaints")


def _platform() -> sa.Column[str]:
    return sa.Column(
        "platform",
        sa.String(length=PLATFORM_MAX),
        nullable=False,
        server_default=DEFAULT_PLATFORM,
    )


def upgrade() -> None:
    for table in OWNED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(_platform())
            if table == "items":
                batch.add_column(
                    sa.Column(
                        "content_digest", sa.String(length=64), nullable=False, server_default=""
                    )
                )
                batch.drop_constraint("uq_items_item_id", type_="unique")
                batch.create_unique_constraint(
                    "uq_items_platform_item_id_content_digest",
                    ["platform", "item_id", "content_digest"],
                )
            if table == "complaints":
                batch.drop_constraint("uq_complaints_complaint_ref", type_="unique")
                batch.create_unique_constraint(
                    "uq_complaints_platform_complaint_ref", ["platform", "complaint_ref"]
                )


def downgrade() -> None:
    for table in reversed(OWNED):
        with op.batch_alter_table(table) as batch:
            if table == "complaints":
                batch.drop_constraint("uq_complaints_platform_complaint_ref", type_="unique")
                batch.create_unique_constraint("uq_complaints_complaint_ref", ["complaint_ref"])
            if table == "items":
                batch.drop_constraint("uq_items_platform_item_id_content_digest", type_="unique")
                batch.create_unique_constraint("uq_items_item_id", ["item_id"])
                batch.drop_column("content_digest")
            batch.drop_column("platform")
