"""Centre deliveries and indicators: recipients (Europol, LEAs) and providers' message endpoints,
indicators confirmed at the centre with their generation record and the sequenced feed (Art 44),
and on the provider the authorities' holds on notification and removal (Art 48(6)-(7)).

Revision ID: 0005_centre_delivery
Revises: 0004_reporting_centre
Create Date: 2025-01-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_centre_delivery"
down_revision = "0004_reporting_centre"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("centre_providers") as batch:
        batch.add_column(sa.Column("endpoint_url", sa.String(length=2048), nullable=True))
    op.create_table(
        "centre_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_centre_recipients")),
        sa.UniqueConstraint("name", name=op.f("uq_centre_recipients_name")),
    )
    op.create_table(
        "centre_indicators",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("signal_type", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("report_id", BIG_ID, nullable=False),
        sa.Column("analyst", sa.String(length=128), nullable=False),
        sa.Column("authority_confirmation", sa.String(length=256), nullable=False),
        sa.Column("confirmed_at", WHEN, nullable=False),
        sa.Column("withdrawn_at", WHEN, nullable=True),
        sa.Column("withdrawn_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["centre_reports.id"],
            name=op.f("fk_centre_indicators_report_id_centre_reports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_centre_indicators")),
        sa.UniqueConstraint(
            "signal_type", "value", name=op.f("uq_centre_indicators_signal_type_value")
        ),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "centre_indicator_feed",
        sa.Column("seq", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("indicator_id", BIG_ID, nullable=False),
        sa.Column("op", sa.String(length=8), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["centre_indicators.id"],
            name=op.f("fk_centre_indicator_feed_indicator_id_centre_indicators"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_centre_indicator_feed")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "reporting_holds",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("message_key", sa.String(length=128), nullable=False),
        sa.Column("report_key", sa.String(length=128), nullable=False),
        sa.Column("item_ref", sa.String(length=256), nullable=False),
        sa.Column("authority", sa.String(length=64), nullable=False),
        sa.Column("no_user_notice", sa.Boolean(), nullable=False),
        sa.Column("no_removal", sa.Boolean(), nullable=False),
        sa.Column("until", WHEN, nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reporting_holds")),
        sa.UniqueConstraint("message_key", name=op.f("uq_reporting_holds_message_key")),
    )
    op.create_index(op.f("ix_reporting_holds_item_ref"), "reporting_holds", ["item_ref"])


def downgrade() -> None:
    op.drop_index(op.f("ix_reporting_holds_item_ref"), table_name="reporting_holds")
    op.drop_table("reporting_holds")
    op.drop_table("centre_indicator_feed")
    op.drop_table("centre_indicators")
    op.drop_table("centre_recipients")
    with op.batch_alter_table("centre_providers") as batch:
        batch.drop_column("endpoint_url")
