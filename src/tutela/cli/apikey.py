"""`tutela apikey create|list|revoke`: keys for the platforms that call the node's API; each key
belongs to a platform and sees only that platform's objects."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tutela.auth.api_keys import SCOPES, create_api_key, list_api_keys, revoke_api_key
from tutela.cli.app import app, print_json
from tutela.cli.audit import operator_actor
from tutela.cli.db import opened_database

apikey_app = typer.Typer(name="apikey", help="API keys of the provider node.", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


@apikey_app.command("create")
def create_command(
    name: Annotated[str, typer.Option("--name", help="A name for the key (who uses it).")],
    scope: Annotated[
        list[str], typer.Option("--scope", help=f"Repeatable; one of {', '.join(SCOPES)}.")
    ],
    platform: Annotated[
        str | None,
        typer.Option(
            "--platform",
            help="The platform whose items, cases, webhooks and complaints the key sees and "
            "changes (default: the key's name); several keys may share one.",
        ),
    ] = None,
) -> None:
    """Create a key. The key itself is the last line printed, and is never shown again."""
    with opened_database() as database:
        view, key = create_api_key(database, name, scope, platform=platform, actor=operator_actor())
    sys.stdout.write(
        f"created key {view.name} of platform {view.platform} with scopes {' '.join(view.scopes)}\n"
    )
    sys.stdout.write(key + "\n")


@apikey_app.command("list")
def list_command(json_lines: JsonOption = False) -> None:
    """List keys (names, platforms, prefixes, scopes, last use; never the keys)."""
    with opened_database() as database:
        keys = list_api_keys(database)
    for view in keys:
        if json_lines:
            print_json(view.as_dict())
        else:
            state = "revoked" if view.revoked_at else "active"
            used = view.last_used_at.isoformat() if view.last_used_at else "never"
            sys.stdout.write(
                f"{view.name:<24} {view.platform:<16} tut_{view.prefix}…  {state:<8} used {used}  "
                f"{' '.join(view.scopes)}\n"
            )


@apikey_app.command("revoke")
def revoke_command(name: Annotated[str, typer.Argument(help="The key's name.")]) -> None:
    """Revoke a key; requests with it are refused from now on."""
    with opened_database() as database:
        view = revoke_api_key(database, name, actor=operator_actor())
    sys.stdout.write(f"revoked key {view.name}\n")
