"""`tutela bank subscribe|follow`: banks fed by the EU Centre's signed indicator feed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tutela.cli.app import load_settings, print_json
from tutela.cli.audit import operator_actor
from tutela.cli.bank import bank_app
from tutela.cli.db import opened_database
from tutela.clock import utc_now
from tutela.errors import Unreadable
from tutela.indicators.feed_subscription import HttpFeedClient, follow_feed, subscribe_bank
from tutela.messaging.http import open_client
from tutela.messaging.signing import default_key_file, load_key_file


@bank_app.command("subscribe")
def subscribe_command(
    name: Annotated[str, typer.Argument(help="The bank that follows the feed.")],
    centre: Annotated[str, typer.Option("--centre", help="Base URL of the centre node.")],
    public_key: Annotated[
        Path, typer.Option("--public-key", help="The centre's public key (PEM).")
    ],
) -> None:
    """Make a verified bank that keeps itself current from the centre's feed; `tutela serve`
    and `tutela outbox run` follow it every TUTELA_FEED_INTERVAL_S."""
    try:
        pem = public_key.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        raise Unreadable(f"cannot read the public key file {public_key}") from None
    with opened_database() as database:
        subscribe_bank(database, name, centre, pem, actor=operator_actor())
    sys.stdout.write(f"bank {name} follows {centre}\n")


@bank_app.command("follow")
def follow_command(
    name: Annotated[str, typer.Argument(help="A subscribed bank.")],
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Bring a subscribed bank up to date with the centre's feed now."""
    key = load_key_file(default_key_file(load_settings()))
    with opened_database() as database, open_client() as client:
        report = follow_feed(
            database, name, HttpFeedClient(client, key), utc_now(), actor=operator_actor()
        )
    if json_lines:
        print_json(report.as_dict())
    else:
        sys.stdout.write(f"{name}: {report.added} added, {report.removed} removed\n")
