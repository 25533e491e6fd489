"""Reserved: reporting holds keyed by internal item id (issue 12). A no-op until its change lands.

Revision ID: 0022_holds_by_item
Revises: 0021_video
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0022_holds_by_item"
down_revision = "0021_video"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
