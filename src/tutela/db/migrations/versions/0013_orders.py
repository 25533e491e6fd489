"""Orders: the authority node's issued orders, the provider's received orders and their execution.

Revision ID: 0013_orders
Revises: 0012_operations
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0013_orders"
down_revision = "0012_operations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
