"""Reserved: indicator variants (issue 16, add-media). A no-op until its change lands.

Revision ID: 0027_indicator_variants
Revises: 0026_states
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0027_indicator_variants"
down_revision = "0026_states"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
