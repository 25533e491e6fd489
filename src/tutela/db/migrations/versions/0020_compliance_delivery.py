"""Reserved: compliance: Art 5 reports and figures to the authority (issue 15). A no-op until its change lands.

Revision ID: 0020_compliance_delivery
Revises: 0019_detection_orders
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0020_compliance_delivery"
down_revision = "0019_detection_orders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
