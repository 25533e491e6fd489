"""Provider node: platforms own their objects (API keys, items, cases, webhooks, complaints, deliveries); item identity.

Revision ID: 0008_tenancy_intake
Revises: 0007_sealed_payloads
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0008_tenancy_intake"
down_revision = "0007_sealed_payloads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
