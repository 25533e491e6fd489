"""Indicators: bank creation, deletion and feed subscription enter the change sequence.

Revision ID: 0009_live_banks
Revises: 0008_tenancy_intake
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0009_live_banks"
down_revision = "0008_tenancy_intake"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nothing to change: the new `bank_create` op fits `indicator_changes.op` (String(16)), and
    # banks made before it need no row, since every matcher reads all banks when it loads.
    pass


def downgrade() -> None:
    pass
