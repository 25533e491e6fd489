"""Videos through the detection queue (issue 17): a job may name the spooled video file its
item's content waits in (relative to the data directory), for the workers to hash and remove
once the verdict is committed.

Revision ID: 0025_video_queue
Revises: 0024_replicas
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025_video_queue"
down_revision = "0024_replicas"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("spool_path", sa.String(length=512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("spool_path")
