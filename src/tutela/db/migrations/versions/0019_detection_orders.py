"""Reserved: orders: detection orders gating detection (issue 14). A no-op until its change lands.

Revision ID: 0019_detection_orders
Revises: 0018_robust
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0019_detection_orders"
down_revision = "0018_robust"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
