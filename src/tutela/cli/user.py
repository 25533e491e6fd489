"""`tutela user create|list|disable`: the people who sign in to the review console."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer

from tutela.auth.roles import Role
from tutela.auth.users import create_user, disable_user, list_users
from tutela.cli.app import app, print_json
from tutela.cli.audit import operator_actor
from tutela.cli.db import opened_database
from tutela.errors import InvalidInput

user_app = typer.Typer(name="user", help="Console users and their roles.", no_args_is_help=True)
app.add_typer(user_app, name="user")
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


@user_app.command("create")
def create_command(
    name: Annotated[str, typer.Argument(help="The sign-in name.")],
    role: Annotated[
        list[str],
        typer.Option("--role", help=f"Repeatable; one of {', '.join(r.value for r in Role)}."),
    ],
) -> None:
    """Create a user. The password is read from standard input (asked twice, without echo, on a
    terminal); at least 12 characters."""
    password = _read_password()
    with opened_database() as database:
        view = create_user(database, name, password, role, actor=operator_actor())
    sys.stdout.write(f"created user {view.name} with roles {' '.join(sorted(view.roles))}\n")


@user_app.command("list")
def list_command(json_lines: JsonOption = False) -> None:
    """List users, their roles and whether they are active."""
    with opened_database() as database:
        users = list_users(database)
    for view in users:
        if json_lines:
            print_json(view.as_dict())
        else:
            state = "active" if view.active else "disabled"
            sys.stdout.write(f"{view.name:<24} {state:<9} {' '.join(sorted(view.roles))}\n")


@user_app.command("disable")
def disable_command(name: Annotated[str, typer.Argument(help="The user's name.")]) -> None:
    """Disable a user and end their sessions; the account stays for the audit log."""
    with opened_database() as database:
        view = disable_user(database, name, actor=operator_actor())
    sys.stdout.write(f"disabled user {view.name}\n")


def _read_password() -> str:
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise InvalidInput("the two passwords differ")
        return password
    # Piped: the first line, without its line break (a trailing space is part of the password).
    return sys.stdin.readline().rstrip("\r\n")
