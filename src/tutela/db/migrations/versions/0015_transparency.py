"""Yearly figures and victims' requests at the centre.

Revision ID: 0015_transparency
Revises: 0014_statements
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_transparency"
down_revision = "0014_statements"
branch_labels = None
depends_on = None


WHEN = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "victim_requesters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_victim_requesters")),
        sa.UniqueConstraint("name", name=op.f("uq_victim_requesters_name")),
        sa.UniqueConstraint("key_id", name=op.f("uq_victim_requesters_key_id")),
    )
    op.create_table(
        "victim_requests",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("signature_digest", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("signed_at", sa.String(length=40), nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.Column("hash_count", sa.Integer(), nullable=False),
        sa.Column("matched_reports", sa.Integer(), nullable=False),
        sa.Column("removal_requests", sa.Integer(), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["victim_requesters.id"],
            name=op.f("fk_victim_requests_requester_id_victim_requesters"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_victim_requests")),
        sa.UniqueConstraint(
            "requester_id",
            "signature_digest",
            name=op.f("uq_victim_requests_requester_id_signature_digest"),
        ),
    )
    with op.batch_alter_table("victim_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_victim_requests_requester_id"), ["requester_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("victim_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_victim_requests_requester_id"))
    op.drop_table("victim_requests")
    op.drop_table("victim_requesters")
