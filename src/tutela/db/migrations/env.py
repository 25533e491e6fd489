"""Alembic environment: runs migrations on the engine the caller passed in (never a URL here)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from tutela.db.base import Base

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations through tutela.db.upgrade(engine) or `tutela db upgrade`")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
