"""`tutela centre serve|provider add|route set`: running an EU Centre node."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from tutela.api.centre import create_centre_app
from tutela.centre.providers import register_provider
from tutela.centre.triage import set_routing_rule
from tutela.cli.app import app, load_settings, print_json
from tutela.cli.db import opened_database
from tutela.db.types import utc_now
from tutela.errors import Unreadable

centre_app = typer.Typer(name="centre", help="The EU Centre node.", no_args_is_help=True)
provider_app = typer.Typer(name="provider", help="Providers that report.", no_args_is_help=True)
route_app = typer.Typer(name="route", help="Competent LEA per Member State.", no_args_is_help=True)
app.add_typer(centre_app, name="centre")
centre_app.add_typer(provider_app, name="provider")
centre_app.add_typer(route_app, name="route")


@centre_app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8100,
) -> None:
    """Run the centre node's HTTP API (report intake, status for providers)."""
    logging.basicConfig(level=logging.WARNING, format="tutela: %(message)s")
    uvicorn.run(
        create_centre_app(load_settings()),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )


@provider_app.command("add")
def provider_add_command(
    name: Annotated[str, typer.Argument(help="The provider's legal name.")],
    public_key: Annotated[
        Path, typer.Option("--public-key", help="PEM file from `tutela keys generate`.")
    ],
    country: Annotated[str, typer.Option(help="Member State of establishment (ISO).")] = "",
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Register a provider and the Ed25519 key its reports are signed with."""
    try:
        pem = public_key.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        raise Unreadable(f"cannot read the public key file {public_key}") from None
    with opened_database() as database, database.unit_of_work() as session:
        provider = register_provider(session, name, pem, utc_now(), country)
        result = {"id": provider.id, "name": provider.name, "key_id": provider.key_id}
    if json_lines:
        print_json(result)
    else:
        sys.stdout.write(f"registered provider {result['name']} with key {result['key_id']}\n")


@route_app.command("set")
def route_set_command(
    country: Annotated[str, typer.Argument(help="ISO 3166 two-letter code.")],
    recipient: Annotated[str, typer.Argument(help="Name of the competent LEA.")],
) -> None:
    """Name the LEA that receives forwarded reports for a Member State (Art 48(3))."""
    with opened_database() as database, database.unit_of_work() as session:
        set_routing_rule(session, country, recipient, utc_now())
    sys.stdout.write(f"reports for {country.upper()} go to Europol and {recipient}\n")
