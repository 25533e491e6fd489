"""`tutela db upgrade`, and the one way every command opens the database (migrations applied)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from tutela.cli.app import app, load_settings, print_json
from tutela.db import Database, open_database

db_app = typer.Typer(name="db", help="The database: schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@contextmanager
def opened_database() -> Iterator[Database]:
    """The composition root for commands: settings from the environment, schema brought up to
    date, engine disposed of at the end."""
    database = open_database(load_settings())
    try:
        yield database
    finally:
        database.close()


@db_app.command("upgrade")
def upgrade_command(
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Apply every pending migration to the configured database."""
    with opened_database() as database:
        revision = database.upgrade()
        if json_lines:
            print_json({"revision": revision, "dialect": database.dialect})
        else:
            sys.stdout.write(f"database ({database.dialect}) at revision {revision}\n")
