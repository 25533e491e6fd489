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
    pass


def downgrade() -> None:
    pass
