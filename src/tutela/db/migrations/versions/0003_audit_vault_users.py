"""Provider node, part 2: the hash-chained audit log and its head, the evidence vault, and
console users with roles, sessions and login throttles.

Revision ID: 0003_audit_vault_users
Revises: 0002_detection
Create Date: 2025-01-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_audit_vault_users"
down_revision = "0002_detection"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)
GENESIS_HASH = "0" * 64


def upgrade() -> None:
    _audit()
    _vault()
    _users()


def _audit() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject_type", sa.String(64), nullable=True),
        sa.Column("subject_id", sa.String(256), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
        sa.UniqueConstraint("prev_hash", name="uq_audit_log_prev_hash"),
        sa.UniqueConstraint("entry_hash", name="uq_audit_log_entry_hash"),
    )
    op.create_index("ix_audit_log_action", "audit_log", ["action"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_head"),
    )
    # The one head row every append locks; the chain starts from the genesis hash.
    op.bulk_insert(head, [{"id": 1, "seq": 0, "entry_hash": GENESIS_HASH}])


def _vault() -> None:
    op.create_table(
        "vault_records",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("item_ref", sa.String(256), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("retention_from", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("content_length", sa.BigInteger(), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("purged_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_vault_records"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_vault_records_item_ref", "vault_records", ["item_ref"])
    op.create_index("ix_vault_records_expires_at", "vault_records", ["expires_at"])
    op.create_table(
        "vault_blobs",
        sa.Column("record_id", BIG_ID, nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_metadata", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("record_id", name="pk_vault_blobs"),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["vault_records.id"],
            name="fk_vault_blobs_record_id_vault_records",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "vault_extensions",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("record_id", BIG_ID, nullable=False),
        sa.Column("previous_expires_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("legal_reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_vault_extensions"),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["vault_records.id"],
            name="fk_vault_extensions_record_id_vault_records",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_vault_extensions_record_id", "vault_extensions", ["record_id"])


def _users() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("disabled_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
    )
    op.create_table(
        "user_roles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "role", name="pk_user_roles"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_user_roles_user_id_users", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "user_sessions",
        sa.Column("id", BIG_ID, sa.Identity(always=False), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("last_seen_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("revoked_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_user_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_user_sessions_token_hash"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_user_sessions_user_id_users", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"])
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", WHEN, nullable=False),
        sa.Column("locked_until", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_login_throttles"),
    )


def downgrade() -> None:
    op.drop_table("login_throttles")
    op.drop_index("ix_user_sessions_user_id", table_name="user_sessions")
    op.drop_table("user_sessions")
    op.drop_table("user_roles")
    op.drop_table("users")
    op.drop_index("ix_vault_extensions_record_id", table_name="vault_extensions")
    op.drop_table("vault_extensions")
    op.drop_table("vault_blobs")
    op.drop_index("ix_vault_records_expires_at", table_name="vault_records")
    op.drop_index("ix_vault_records_item_ref", table_name="vault_records")
    op.drop_table("vault_records")
    op.drop_index("ix_audit_log_action", table_name="audit_log")
    op.drop_table("audit_head")
    op.drop_table("audit_log")
