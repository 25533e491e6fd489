"""Provider node: content held for review is sealed in item_payloads under the vault master key
(DESIGN ground rule 2); NULL key columns mean plaintext awaiting hashing.

Revision ID: 0007_sealed_payloads
Revises: 0006_review_enforcement
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_sealed_payloads"
down_revision = "0006_review_enforcement"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("item_payloads") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("wrapped_key", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("item_payloads") as batch:
        batch.drop_column("wrapped_key")
        batch.drop_column("key_id")
