"""One name per concept (issue 13): the platform's own id of an item is `item_ref`, as it is
everywhere else (holds, takedowns, notices, the vault); a column named `item_id` is always a
reference to `items.id`. The column `items.item_id` becomes `items.item_ref`, and its unique
constraint is named after it (on PostgreSQL). Data is unchanged.

Revision ID: 0030_item_ref
Revises: 0029_reserved
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0030_item_ref"
down_revision = "0029_reserved"
branch_labels = None
depends_on = None

OLD_UNIQUE = "uq_items_platform_item_id_content_digest"
NEW_UNIQUE = "uq_items_platform_item_ref_content_digest"


def upgrade() -> None:
    _rename("item_id", "item_ref", OLD_UNIQUE, NEW_UNIQUE)


def downgrade() -> None:
    _rename("item_ref", "item_id", NEW_UNIQUE, OLD_UNIQUE)


def _rename(old: str, new: str, old_unique: str, new_unique: str) -> None:
    # A plain RENAME COLUMN on both databases: SQLite (since 3.25) rewrites the constraints and
    # triggers that name the column. Only PostgreSQL renames the unique constraint too: on SQLite
    # that would need the table rebuilt, which drops its state-check triggers, and a SQLite
    # constraint's name is never used.
    op.execute(f"ALTER TABLE items RENAME COLUMN {old} TO {new}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE items RENAME CONSTRAINT {old_unique} TO {new_unique}")
