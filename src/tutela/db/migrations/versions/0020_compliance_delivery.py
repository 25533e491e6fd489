"""Compliance documents at the authority: the providers' signed Art 5 risk reports and yearly
figures, as received over the outbox and verified (issue 15).

Revision ID: 0020_compliance_delivery
Revises: 0019_detection_orders
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_compliance_delivery"
down_revision = "0019_detection_orders"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE = "authority_compliance_documents"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("document_ref", sa.String(length=128), nullable=False),
        sa.Column("service", sa.String(length=128), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("signed_at", WHEN, nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["authority_providers.id"],
            name=op.f("fk_authority_compliance_documents_provider_id_authority_providers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authority_compliance_documents")),
        sa.UniqueConstraint(
            "provider_id",
            "document_ref",
            name=op.f("uq_authority_compliance_documents_provider_id_document_ref"),
        ),
    )
    op.create_index(
        op.f("ix_authority_compliance_documents_provider_id_kind"), TABLE, ["provider_id", "kind"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_authority_compliance_documents_provider_id_kind"), table_name=TABLE)
    op.drop_table(TABLE)
