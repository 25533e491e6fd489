"""`tutela centre requester add`: the authorities and hotlines registered at the centre to ask,
on a victim's behalf, whether material depicting them was reported (Art 20-21)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tutela.centre.victims import REQUESTER_KINDS, add_requester
from tutela.cli.app import print_json
from tutela.cli.centre import ByOption, JsonOption, centre_app
from tutela.cli.db import opened_database
from tutela.errors import Unreadable

requester_app = typer.Typer(
    name="requester",
    help="Authorities and hotlines that ask for victims (Art 20-21).",
    no_args_is_help=True,
)
centre_app.add_typer(requester_app, name="requester")


@requester_app.command("add")
def requester_add_command(
    name: Annotated[str, typer.Argument(help="The authority's or hotline's name.")],
    public_key: Annotated[
        Path, typer.Option("--public-key", help="PEM file of its Ed25519 public key.")
    ],
    by: ByOption,
    kind: Annotated[
        str, typer.Option("--kind", help=f"One of {', '.join(REQUESTER_KINDS)}.")
    ] = "hotline",
    json_lines: JsonOption = False,
) -> None:
    """Register an authority or hotline and the key its victims' requests are signed with."""
    try:
        pem = public_key.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        raise Unreadable(f"cannot read the public key file {public_key}") from None
    with opened_database() as database:
        requester = add_requester(database, by, name, kind, pem)
    if json_lines:
        print_json(
            {
                "id": requester.id,
                "name": requester.name,
                "kind": requester.kind,
                "key_id": requester.key_id,
            }
        )
    else:
        sys.stdout.write(f"registered {requester.kind} {requester.name} ({requester.key_id})\n")
