"""Streaming vault (issue 17): content too large for memory (a video) is sealed as a stream of
chunks. `vault_blobs.chunks` and `item_payloads.chunks` say how many (NULL: the row holds one
sealed value, as before; a number: the row holds the stream's header, and its chunks are rows of
`vault_chunks` / `item_payload_chunks`, deleted with their record or payload).

Revision ID: 0028_vault_streams
Revises: 0027_indicator_variants
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028_vault_streams"
down_revision = "0027_indicator_variants"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("vault_blobs") as batch:
        batch.add_column(sa.Column("chunks", sa.Integer(), nullable=True))
    with op.batch_alter_table("item_payloads") as batch:
        batch.add_column(sa.Column("chunks", sa.Integer(), nullable=True))
    for table, column, target in (
        ("vault_chunks", "record_id", "vault_records.id"),
        ("item_payload_chunks", "item_id", "item_payloads.item_id"),
    ):
        op.create_table(
            table,
            sa.Column(column, BIG_ID, nullable=False),
            sa.Column("seq", sa.Integer(), nullable=False),
            sa.Column("data", sa.LargeBinary(), nullable=False),
            sa.ForeignKeyConstraint(
                [column],
                [target],
                name=op.f(f"fk_{table}_{column}_{target.split('.')[0]}"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint(column, "seq", name=op.f(f"pk_{table}")),
        )


def downgrade() -> None:
    op.drop_table("item_payload_chunks")
    op.drop_table("vault_chunks")
    with op.batch_alter_table("item_payloads") as batch:
        batch.drop_column("chunks")
    with op.batch_alter_table("vault_blobs") as batch:
        batch.drop_column("chunks")
