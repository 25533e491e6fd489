"""Reserved: reserved (issue 14/18). A no-op until its change lands.

Revision ID: 0029_reserved
Revises: 0028_vault_streams
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0029_reserved"
down_revision = "0028_vault_streams"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
