"""Edge layer: the database engine, sessions, and the Alembic migrations that alone shape it."""

from tutela.db.base import Base
from tutela.db.database import Database, open_database
from tutela.db.engine import create_engine_from, normalise_url
from tutela.db.schema import current_revision, head_revision, upgrade

__all__ = [
    "Base",
    "Database",
    "create_engine_from",
    "current_revision",
    "head_revision",
    "normalise_url",
    "open_database",
    "upgrade",
]
