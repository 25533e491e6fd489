"""Video banks and items (issue 17): a bank's vPDQ thresholds, each video indicator's frames, and
the frame times of an item's matches.

Revision ID: 0021_video
Revises: 0020_compliance_delivery
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_video"
down_revision = "0020_compliance_delivery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("banks") as batch:
        batch.add_column(
            sa.Column("vpdq_query_match", sa.Float(), server_default="80", nullable=False)
        )
        batch.add_column(
            sa.Column("vpdq_compared_match", sa.Float(), server_default="0", nullable=False)
        )
    op.create_table(
        "video_indicators",
        sa.Column(
            "indicator_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("indicators.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("frame_count", sa.Integer(), nullable=False),
        sa.Column("frames", sa.Text(), nullable=False),
    )
    with op.batch_alter_table("item_matches") as batch:
        batch.add_column(sa.Column("video", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("item_matches") as batch:
        batch.drop_column("video")
    op.drop_table("video_indicators")
    with op.batch_alter_table("banks") as batch:
        batch.drop_column("vpdq_compared_match")
        batch.drop_column("vpdq_query_match")
