"""Reserved: streaming vault (issue 17). A no-op until its change lands.

Revision ID: 0028_vault_streams
Revises: 0027_indicator_variants
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0028_vault_streams"
down_revision = "0027_indicator_variants"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
