"""Indicator variants (issue 16, add-media): a small set of further PDQs per indicator (standard
crops of the image it was made from), on the provider (`indicator_variants`) and on the centre
(`centre_indicators.variants`, published in its feed).

Revision ID: 0027_indicator_variants
Revises: 0026_states
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027_indicator_variants"
down_revision = "0026_states"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "indicator_variants",
        sa.Column(
            "indicator_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("indicators.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        # [[name, pdq hex], …]
        sa.Column("variants", sa.JSON(), nullable=False),
    )
    with op.batch_alter_table("centre_indicators") as batch:
        batch.add_column(sa.Column("variants", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("centre_indicators") as batch:
        batch.drop_column("variants")
    op.drop_table("indicator_variants")
