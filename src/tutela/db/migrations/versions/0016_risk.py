"""Risk assessment and mitigation register (Art 3-5).

Revision ID: 0016_risk
Revises: 0015_transparency
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_risk"
down_revision = "0015_transparency"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "risk_assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("based_on_id", sa.Integer(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("signed_off_at", WHEN, nullable=True),
        sa.Column("signed_off_by", sa.String(length=64), nullable=True),
        sa.Column("reassess_by", WHEN, nullable=True),
        sa.Column("snapshot", sa.JSON(none_as_null=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["based_on_id"],
            ["risk_assessments.id"],
            name=op.f("fk_risk_assessments_based_on_id_risk_assessments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_assessments")),
        sa.UniqueConstraint("service", "version", name=op.f("uq_risk_assessments_service_version")),
    )
    op.create_table(
        "risk_parts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("factors", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["risk_assessments.id"],
            name=op.f("fk_risk_parts_assessment_id_risk_assessments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_parts")),
        sa.UniqueConstraint("assessment_id", "name", name=op.f("uq_risk_parts_assessment_id_name")),
    )
    op.create_index(op.f("ix_risk_parts_assessment_id"), "risk_parts", ["assessment_id"])
    op.create_table(
        "risk_measures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("part", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["risk_assessments.id"],
            name=op.f("fk_risk_measures_assessment_id_risk_assessments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_measures")),
    )
    op.create_index(op.f("ix_risk_measures_assessment_id"), "risk_measures", ["assessment_id"])
    op.create_table(
        "risk_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("recorded_at", WHEN, nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_changes")),
    )
    op.create_index(op.f("ix_risk_changes_service"), "risk_changes", ["service"])


def downgrade() -> None:
    op.drop_index(op.f("ix_risk_changes_service"), table_name="risk_changes")
    op.drop_table("risk_changes")
    op.drop_index(op.f("ix_risk_measures_assessment_id"), table_name="risk_measures")
    op.drop_table("risk_measures")
    op.drop_index(op.f("ix_risk_parts_assessment_id"), table_name="risk_parts")
    op.drop_table("risk_parts")
    op.drop_table("risk_assessments")
