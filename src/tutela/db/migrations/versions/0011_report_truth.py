"""Reports say what happened: removal, other recipients, awareness, urgency, account action; holds and takedowns.

Revision ID: 0011_report_truth
Revises: 0010_centre_replay
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0011_report_truth"
down_revision = "0010_centre_replay"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
