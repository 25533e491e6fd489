"""Reserved: API replicas (issue 18). A no-op until its change lands.

Revision ID: 0024_replicas
Revises: 0023_messaging
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0024_replicas"
down_revision = "0023_messaging"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
