"""Reporting: the outbox of messages to other nodes and the NCMEC report state machine;
centre: providers, the reports database (Art 45), incidents, forwardings and routing rules.

Revision ID: 0004_reporting_centre
Revises: 0003_audit_vault_users
Create Date: 2025-01-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_reporting_centre"
down_revision = "0003_audit_vault_users"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "centre_incidents",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_centre_incidents")),
    )
    op.create_table(
        "centre_providers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_centre_providers")),
        sa.UniqueConstraint("key_id", name=op.f("uq_centre_providers_key_id")),
        sa.UniqueConstraint("name", name=op.f("uq_centre_providers_name")),
    )
    op.create_table(
        "centre_routing_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_centre_routing_rules")),
        sa.UniqueConstraint("country", name=op.f("uq_centre_routing_rules_country")),
    )
    op.create_table(
        "ncmec_credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ncmec_credentials")),
        sa.UniqueConstraint("name", name=op.f("uq_ncmec_credentials_name")),
    )
    op.create_table(
        "ncmec_reports",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("message_key", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("report_id", sa.String(length=32), nullable=True),
        sa.Column("account_id", sa.String(length=256), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ncmec_reports")),
        sa.UniqueConstraint("message_key", name=op.f("uq_ncmec_reports_message_key")),
    )
    with op.batch_alter_table("ncmec_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ncmec_reports_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "outbox_messages",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", WHEN, nullable=False),
        sa.Column("claimed_until", WHEN, nullable=True),
        sa.Column("claim_token", sa.String(length=36), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("remote_ref", sa.String(length=128), nullable=True),
        sa.Column("remote_detail", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("delivered_at", WHEN, nullable=True),
        sa.Column("status_changed_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
        sa.UniqueConstraint(
            "destination",
            "idempotency_key",
            name=op.f("uq_outbox_messages_destination_idempotency_key"),
        ),
    )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_messages_status_due", ["status", "next_attempt_at"], unique=False
        )

    op.create_table(
        "centre_reports",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("report_uid", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("signed_at", sa.String(length=40), nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("assessed_at", WHEN, nullable=True),
        sa.Column("unfounded_reasons", sa.Text(), nullable=True),
        sa.Column("provider_notified_at", WHEN, nullable=True),
        sa.Column("information_requested", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("incident_id", BIG_ID, nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["centre_incidents.id"],
            name=op.f("fk_centre_reports_incident_id_centre_incidents"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["centre_providers.id"],
            name=op.f("fk_centre_reports_provider_id_centre_providers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_centre_reports")),
        sa.UniqueConstraint(
            "provider_id",
            "idempotency_key",
            name=op.f("uq_centre_reports_provider_id_idempotency_key"),
        ),
    )
    with op.batch_alter_table("centre_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_centre_reports_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_centre_reports_provider_id"), ["provider_id"], unique=False
        )
        batch_op.create_index("ix_centre_reports_status_urgent", ["status", "urgent"], unique=False)

    op.create_table(
        "ncmec_files",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("ncmec_report_id", BIG_ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item_ref", sa.String(length=256), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("file_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["ncmec_report_id"],
            ["ncmec_reports.id"],
            name=op.f("fk_ncmec_files_ncmec_report_id_ncmec_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ncmec_files")),
        sa.UniqueConstraint(
            "ncmec_report_id", "position", name=op.f("uq_ncmec_files_ncmec_report_id_position")
        ),
    )
    with op.batch_alter_table("ncmec_files", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ncmec_files_ncmec_report_id"), ["ncmec_report_id"], unique=False
        )

    op.create_table(
        "centre_forwardings",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("report_id", BIG_ID, nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("forwarded_at", WHEN, nullable=False),
        sa.Column("outbox_message_id", BIG_ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["centre_reports.id"],
            name=op.f("fk_centre_forwardings_report_id_centre_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_centre_forwardings")),
        sa.UniqueConstraint(
            "report_id", "recipient", name=op.f("uq_centre_forwardings_report_id_recipient")
        ),
    )
    with op.batch_alter_table("centre_forwardings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_centre_forwardings_report_id"), ["report_id"], unique=False
        )

    op.create_table(
        "centre_report_hashes",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("report_id", BIG_ID, nullable=False),
        sa.Column("signal_type", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["centre_reports.id"],
            name=op.f("fk_centre_report_hashes_report_id_centre_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_centre_report_hashes")),
    )
    with op.batch_alter_table("centre_report_hashes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_centre_report_hashes_report_id"), ["report_id"], unique=False
        )
        batch_op.create_index(
            "ix_centre_report_hashes_type_value", ["signal_type", "value"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("centre_report_hashes", schema=None) as batch_op:
        batch_op.drop_index("ix_centre_report_hashes_type_value")
        batch_op.drop_index(batch_op.f("ix_centre_report_hashes_report_id"))

    op.drop_table("centre_report_hashes")
    with op.batch_alter_table("centre_forwardings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_centre_forwardings_report_id"))

    op.drop_table("centre_forwardings")
    with op.batch_alter_table("ncmec_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ncmec_files_ncmec_report_id"))

    op.drop_table("ncmec_files")
    with op.batch_alter_table("centre_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_centre_reports_status_urgent")
        batch_op.drop_index(batch_op.f("ix_centre_reports_provider_id"))
        batch_op.drop_index(batch_op.f("ix_centre_reports_incident_id"))

    op.drop_table("centre_reports")
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_messages_status_due")

    op.drop_table("outbox_messages")
    with op.batch_alter_table("ncmec_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ncmec_reports_account_id"))

    op.drop_table("ncmec_reports")
    op.drop_table("ncmec_credentials")
    op.drop_table("centre_routing_rules")
    op.drop_table("centre_providers")
    op.drop_table("centre_incidents")
