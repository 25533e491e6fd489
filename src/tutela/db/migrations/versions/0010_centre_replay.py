"""Centre and provider: signed messages are unique per sender (replay protection).

The centre stores the digest of each report's signature, unique per provider, and the incident
intake answered with; a provider records the signed messages it took from the centre.

Revision ID: 0010_centre_replay
Revises: 0009_live_banks
Create Date: 2026-12-03
"""

from __future__ import annotations

import base64
import binascii
import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0010_centre_replay"
down_revision = "0009_live_banks"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("centre_reports") as batch:
        batch.add_column(sa.Column("signature_digest", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("intake_incident_id", BIG_ID, nullable=True))
    _fill_digests()
    op.create_index(
        "ux_centre_reports_provider_signature",
        "centre_reports",
        ["provider_id", "signature_digest"],
        unique=True,
    )
    op.create_table(
        "received_signed_messages",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("sender_key_id", sa.String(length=32), nullable=False),
        sa.Column("signature_digest", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("signed_at", sa.String(length=40), nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_received_signed_messages")),
        sa.UniqueConstraint(
            "sender_key_id",
            "signature_digest",
            name=op.f("uq_received_signed_messages_sender_key_id_signature_digest"),
        ),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("received_signed_messages")
    op.drop_index("ux_centre_reports_provider_signature", table_name="centre_reports")
    with op.batch_alter_table("centre_reports") as batch:
        batch.drop_column("intake_incident_id")
        batch.drop_column("signature_digest")


def _fill_digests() -> None:
    """Digests of reports already received. Replays stored before this revision keep no digest,
    so that the first copy of each signed report alone holds it and the unique index builds."""
    reports = sa.table(
        "centre_reports",
        sa.column("id", BIG_ID),
        sa.column("provider_id", sa.Integer()),
        sa.column("signature", sa.String()),
        sa.column("signature_digest", sa.String()),
        sa.column("incident_id", BIG_ID),
        sa.column("intake_incident_id", BIG_ID),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(reports.c.id, reports.c.provider_id, reports.c.signature).order_by(reports.c.id)
    )
    seen: set[tuple[int, str]] = set()
    for row in rows.all():
        try:
            digest = hashlib.sha256(base64.b64decode(row.signature, validate=True)).hexdigest()
        except (binascii.Error, ValueError):
            continue
        if (row.provider_id, digest) in seen:
            continue
        seen.add((row.provider_id, digest))
        connection.execute(
            reports.update().where(reports.c.id == row.id).values(signature_digest=digest)
        )
    connection.execute(reports.update().values(intake_incident_id=reports.c.incident_id))
