"""Reserved: video banks and items (issue 17). A no-op until its change lands.

Revision ID: 0021_video
Revises: 0020_compliance_delivery
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0021_video"
down_revision = "0020_compliance_delivery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
