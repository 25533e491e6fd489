"""Provider node, part 2: review decisions and reviewers' wellness settings; takedown requests,
held user notices and complaints (issue 5).

Revision ID: 0006_review_enforcement
Revises: 0005_centre_delivery
Create Date: 2025-01-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_review_enforcement"
down_revision = "0005_centre_delivery"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "review_decisions",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("status_after", sa.String(length=16), nullable=False),
        sa.Column("effects", sa.JSON(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_review_decisions_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_review_decisions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_decisions")),
    )
    op.create_index(
        op.f("ix_review_decisions_case_id"), "review_decisions", ["case_id"], unique=False
    )
    op.create_table(
        "reviewer_preferences",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("blur_px", sa.Integer(), nullable=False),
        sa.Column("greyscale", sa.Boolean(), nullable=False),
        sa.Column("autoplay", sa.Boolean(), nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_reviewer_preferences_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_reviewer_preferences")),
    )
    op.create_table(
        "takedown_requests",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("item_id", BIG_ID, nullable=False),
        sa.Column("item_ref", sa.String(length=256), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("account_action", sa.String(length=32), nullable=False),
        sa.Column("sends", sa.Integer(), nullable=False),
        sa.Column("requested_at", WHEN, nullable=False),
        sa.Column("next_send_at", WHEN, nullable=True),
        sa.Column("confirmed_at", WHEN, nullable=True),
        sa.Column("confirmation", sa.JSON(none_as_null=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_takedown_requests_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_requests")),
        sa.UniqueConstraint("case_id", name=op.f("uq_takedown_requests_case_id")),
    )
    op.create_index(
        op.f("ix_takedown_requests_item_id"), "takedown_requests", ["item_id"], unique=False
    )
    op.create_index(
        "ix_takedown_requests_state_next", "takedown_requests", ["state", "next_send_at"]
    )
    op.create_table(
        "user_notices",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("item_id", BIG_ID, nullable=False),
        sa.Column("item_ref", sa.String(length=256), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("hold_until", WHEN, nullable=False),
        sa.Column("hold_reason", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("released_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_user_notices_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_notices")),
    )
    op.create_index(op.f("ix_user_notices_case_id"), "user_notices", ["case_id"], unique=False)
    op.create_index("ix_user_notices_state_hold", "user_notices", ["state", "hold_until"])
    op.create_table(
        "complaints",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("complaint_ref", sa.String(length=256), nullable=False),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("item_id", BIG_ID, nullable=False),
        sa.Column("grounds", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", WHEN, nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_complaints_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaints")),
        sa.UniqueConstraint("complaint_ref", name=op.f("uq_complaints_complaint_ref")),
    )
    op.create_index(op.f("ix_complaints_case_id"), "complaints", ["case_id"], unique=False)


def downgrade() -> None:
    for table in (
        "complaints",
        "user_notices",
        "takedown_requests",
        "reviewer_preferences",
        "review_decisions",
    ):
        op.drop_table(table)
