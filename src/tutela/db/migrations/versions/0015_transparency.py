"""Yearly figures and victims' requests at the centre.

Revision ID: 0015_transparency
Revises: 0014_statements
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0015_transparency"
down_revision = "0014_statements"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
