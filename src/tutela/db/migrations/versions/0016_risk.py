"""Risk assessment and mitigation register (Art 3-5).

Revision ID: 0016_risk
Revises: 0015_transparency
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0016_risk"
down_revision = "0015_transparency"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
