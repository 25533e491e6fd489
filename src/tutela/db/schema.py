"""Runs the Alembic migrations that ship inside the package; the only way the schema changes.

Alembic (with Mako and Pygments) costs ~0.4 CPU-s to import, and almost every process that opens
the database finds it already at head: the current revision is read from `alembic_version` and
the head from the migration scripts' `revision = "…"` lines, and Alembic is imported only when a
migration must run (or when the scripts do not form one plain line, where it decides).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps

_REVISION_LINE = re.compile(r'^(down_revision|revision)\s*(?::[^=]*)?=\s*"([^"]+)"', re.MULTILINE)


def alembic_config(engine: Engine) -> Config:
    """An Alembic config bound to `engine`, with no alembic.ini needed on disk."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # env.py takes the connection from here rather than building its own engine from a URL, so
    # credentials in the URL never pass through Alembic's config (which may log it).
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Apply every migration up to `revision`; return the revision the database is now at."""
    current = current_revision(engine)
    if current is not None and current == (head_revision() if revision == "head" else revision):
        return current
    from alembic import command

    command.upgrade(alembic_config(engine), revision)
    return current_revision(engine) or "base"


def current_revision(engine: Engine) -> str | None:
    """The revision recorded in the database; None before the first migration."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    if len(rows) > 1:  # several branch heads: Alembic's own answer (it raises on several)
        from alembic.runtime.migration import MigrationContext

        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    return str(rows[0][0]) if rows else None


@functools.cache
def head_revision() -> str:
    """The newest revision the package ships: the one no other script names as its parent."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict(_REVISION_LINE.findall(script.read_text(encoding="utf-8")))
        if "revision" not in found:
            return _alembic_head()  # a script written some other way: let Alembic read them all
        revisions.add(found["revision"])
        parents.add(found.get("down_revision", ""))
    heads = revisions - parents
    if len(heads) != 1:
        return _alembic_head()
    return heads.pop()


def _alembic_head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert head is not None, "the package ships at least one migration"
    return head
