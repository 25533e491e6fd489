"""Reserved: messaging kernel (issue 13). A no-op until its change lands.

Revision ID: 0023_messaging
Revises: 0022_holds_by_item
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0023_messaging"
down_revision = "0022_holds_by_item"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
