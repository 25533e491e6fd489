"""Operations: alerts and what the operator sees.

Revision ID: 0012_operations
Revises: 0011_report_truth
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0012_operations"
down_revision = "0011_report_truth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
