"""Statements of reasons (DSA Art 17) for users and the DSA Transparency Database.

Revision ID: 0014_statements
Revises: 0013_orders
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0014_statements"
down_revision = "0013_orders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
