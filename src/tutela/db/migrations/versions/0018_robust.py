"""Robust matching, opt-in per bank: `banks.robust` (uploads' robust query variants matched too).

Revision ID: 0018_robust
Revises: 0017_blocking
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_robust"
down_revision = "0017_blocking"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("banks") as batch:
        batch.add_column(
            sa.Column("robust", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("banks") as batch:
        batch.drop_column("robust")
