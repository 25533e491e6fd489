"""`tutela centre serve|keys|provider|recipient|route|forward|unfounded|indicator|hold|report`:
running an EU Centre node. Every command that changes the centre's state names the console
account it acts under (`--analyst` for decisions on reports, `--by` for the node's set-up), which
must exist, be active and hold the role the act needs; the act is audited under it."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from tutela.centre.administration import add_provider, save_recipient, set_endpoint, set_route
from tutela.centre.decisions import (
    confirm_indicators,
    forward,
    pass_on_hold,
    set_aside_as_unfounded,
)
from tutela.centre.keys import centre_key_file
from tutela.centre.reading import STATUSES, list_received, show_received
from tutela.cli.app import app, load_settings, print_json
from tutela.cli.audit import operator_actor
from tutela.cli.db import opened_database
from tutela.cli.key_files import ForceOption, PublicOutOption, generate_and_show
from tutela.errors import InvalidInput, Unreadable
from tutela.logs import configure_logging

centre_app = typer.Typer(name="centre", help="The EU Centre node.", no_args_is_help=True)
provider_app = typer.Typer(name="provider", help="Providers that report.", no_args_is_help=True)
route_app = typer.Typer(name="route", help="Competent LEA per Member State.", no_args_is_help=True)
keys_app = typer.Typer(name="keys", help="The centre's signing key.", no_args_is_help=True)
recipient_app = typer.Typer(
    name="recipient", help="Europol and LEAs that receive reports.", no_args_is_help=True
)
indicator_app = typer.Typer(name="indicator", help="The indicator database.", no_args_is_help=True)
report_app = typer.Typer(name="report", help="Received reports.", no_args_is_help=True)
app.add_typer(centre_app, name="centre")
centre_app.add_typer(provider_app, name="provider")
centre_app.add_typer(route_app, name="route")
centre_app.add_typer(keys_app, name="keys")
centre_app.add_typer(recipient_app, name="recipient")
centre_app.add_typer(indicator_app, name="indicator")
centre_app.add_typer(report_app, name="report")
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object.")]
# Every act is done under a real, active console account holding the role it needs; the audit
# log names it (tutela.auth.actors).
AnalystOption = Annotated[
    str, typer.Option("--analyst", help="Your console account (role analyst or senior_analyst).")
]
ByOption = Annotated[str, typer.Option("--by", help="Your console account (role administrator).")]


@centre_app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8100,
    sender: Annotated[
        bool, typer.Option("--sender/--no-sender", help="Also deliver the centre's outbox.")
    ] = True,
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="HTTP worker processes; more than one spreads intake over the cores."
        ),
    ] = 1,
) -> None:
    """Run the centre node: intake, status, the indicator feed, and the outbox sender that
    delivers forwarded reports and messages to providers (in this process, once, however many
    workers serve HTTP)."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    # The node's web app and console, imported only to serve: the other `centre` commands
    # (keys, decisions, listings) start without FastAPI and the templates.
    from tutela.nodes.centre import serve_centre

    serve_centre(settings, host=host, port=port, workers=workers, sender=sender)


@keys_app.command("generate")
def keys_generate_command(
    public_out: PublicOutOption = None, force: ForceOption = False, json_lines: JsonOption = False
) -> None:
    """Write the centre's Ed25519 key; providers and LEAs verify the centre with its public key."""
    generate_and_show(centre_key_file(load_settings()), force, public_out, json_lines)


@recipient_app.command("add")
def recipient_add_command(
    name: Annotated[str, typer.Argument(help="europol, or an LEA's name (e.g. lea-de).")],
    url: Annotated[str, typer.Option("--url", help="The endpoint reports are posted to.")],
    by: ByOption,
    country: Annotated[
        str | None, typer.Option("--country", help="Member State whose competent LEA this is.")
    ] = None,
) -> None:
    """Add or change where a recipient receives forwarded reports (Art 48(3))."""
    with opened_database() as database:
        save_recipient(database, by, name, url, country=country)
    sys.stdout.write(f"recipient {name} receives reports at {url}\n")


@provider_app.command("endpoint")
def provider_endpoint_command(
    name: Annotated[str, typer.Argument(help="The provider's registered name.")],
    url: Annotated[str, typer.Argument(help="Base URL of the provider's node.")],
    by: ByOption,
) -> None:
    """Set where the centre sends the provider its messages (status, holds)."""
    with opened_database() as database:
        set_endpoint(database, by, name, url)
    sys.stdout.write(f"messages for {name} go to {url}\n")


@centre_app.command("forward")
def forward_command(report_id: Annotated[int, typer.Argument()], analyst: AnalystOption) -> None:
    """Forward a report to Europol and the competent LEA (Art 48(3))."""
    with opened_database() as database:
        assessment = forward(database, analyst, report_id)
    sys.stdout.write(f"report {report_id} forwarded to {', '.join(assessment.recipients)}\n")


@centre_app.command("unfounded")
def unfounded_command(
    report_id: Annotated[int, typer.Argument()],
    reasons: Annotated[str, typer.Option("--reasons", help="What the provider is told.")],
    analyst: AnalystOption,
) -> None:
    """Set a manifestly unfounded report aside and tell the provider why (Art 48(2))."""
    with opened_database() as database:
        set_aside_as_unfounded(database, analyst, report_id, reasons)
    sys.stdout.write(f"report {report_id} set aside as unfounded\n")


@indicator_app.command("confirm")
def indicator_confirm_command(
    report_id: Annotated[int, typer.Argument()],
    analyst: Annotated[
        str, typer.Option("--analyst", help="The senior analyst's console account.")
    ],
    authority: Annotated[
        str, typer.Option("--authority", help="The national authority's confirmation reference.")
    ],
    media: Annotated[
        list[Path] | None,
        typer.Option(
            "--media",
            help="The confirmed image (repeatable): its crops go with the report's PDQ of it "
            "as variants, so that providers match crops of it too.",
        ),
    ] = None,
    json_lines: JsonOption = False,
) -> None:
    """Make indicators of a report's hashes and publish them in the feed (Art 44)."""
    variants = None
    if media:
        from tutela.cli.media_hashing import media_variants  # the hashing workers: only here

        variants = media_variants(media)
    with opened_database() as database:
        confirmed = confirm_indicators(database, analyst, report_id, authority, variants=variants)
    updated = list(confirmed.updated_ids)
    if json_lines:
        out: dict[str, object] = {
            "report_id": report_id,
            "indicator_ids": list(confirmed.indicator_ids),
        }
        if updated:
            out["variants_updated"] = updated
        print_json(out)
    else:
        again = f"; new variants of {updated} sent again" if updated else ""
        sys.stdout.write(f"indicators {list(confirmed.indicator_ids)} published{again}\n")


@centre_app.command("hold")
def hold_command(
    report_id: Annotated[int, typer.Argument()],
    authority: Annotated[str, typer.Option("--authority", help="The LEA that asks.")],
    until: Annotated[str, typer.Option("--until", help="ISO 8601 end, with time zone.")],
    analyst: AnalystOption,
    no_notice: Annotated[bool, typer.Option("--no-notice", help="Do not tell the user.")] = False,
    no_removal: Annotated[bool, typer.Option("--no-removal", help="Do not remove.")] = False,
) -> None:
    """Pass an LEA's hold on notification and/or removal to the provider (Art 48(6)-(7))."""
    try:
        end = datetime.fromisoformat(until)
    except ValueError:
        raise InvalidInput("--until is an ISO 8601 time") from None
    settings = load_settings()
    with opened_database() as database:
        pass_on_hold(
            database,
            analyst,
            report_id,
            authority,
            no_user_notice=no_notice,
            no_removal=no_removal,
            until=end,
            max_days=settings.lea_hold_max_days,
        )
    sys.stdout.write(f"hold on report {report_id} queued for the provider\n")


@provider_app.command("add")
def provider_add_command(
    name: Annotated[str, typer.Argument(help="The provider's legal name.")],
    public_key: Annotated[
        Path, typer.Option("--public-key", help="PEM file from `tutela keys generate`.")
    ],
    by: ByOption,
    country: Annotated[str, typer.Option(help="Member State of establishment (ISO).")] = "",
    url: Annotated[
        str | None, typer.Option("--url", help="Base URL of the provider's node, for messages.")
    ] = None,
    json_lines: JsonOption = False,
) -> None:
    """Register a provider and the Ed25519 key its reports are signed with."""
    try:
        pem = public_key.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        raise Unreadable(f"cannot read the public key file {public_key}") from None
    with opened_database() as database:
        provider = add_provider(database, by, name, pem, country=country, endpoint_url=url)
    if json_lines:
        print_json({"id": provider.id, "name": provider.name, "key_id": provider.key_id})
    else:
        sys.stdout.write(f"registered provider {provider.name} with key {provider.key_id}\n")


@route_app.command("set")
def route_set_command(
    country: Annotated[str, typer.Argument(help="ISO 3166 two-letter code.")],
    recipient: Annotated[str, typer.Argument(help="Name of the competent LEA.")],
    by: ByOption,
) -> None:
    """Name the LEA that receives forwarded reports for a Member State (Art 48(3))."""
    with opened_database() as database:
        set_route(database, by, country, recipient)
    sys.stdout.write(f"reports for {country.upper()} go to Europol and {recipient}\n")


@report_app.command("list")
def report_list_command(
    status: Annotated[
        str | None,
        typer.Option("--status", help="Only reports of this status: " + ", ".join(STATUSES)),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first.")] = 100,
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """The reports the centre received, newest first (the look is audited)."""
    with opened_database() as database:
        rows = list_received(database, operator_actor(), status, limit)
    for row in rows:
        if json_lines:
            print_json(_json_object(asdict(row)))
        else:
            sys.stdout.write(
                f"{row.report_id:>8}  {row.received_at.isoformat(timespec='seconds'):<25} "
                f"{row.status:<21} {row.kind:<12} {'urgent' if row.urgent else '-':<6} "
                f"incident {row.incident_id or '-'} ({row.incident_size})  {row.provider}\n"
            )
    if not rows and not json_lines:
        sys.stdout.write("no report\n")


@report_app.command("show")
def report_show_command(
    report_id: Annotated[int, typer.Argument()], json_lines: JsonOption = False
) -> None:
    """One report's Art 13 fields, its incident and assessment, never content bytes (the look
    is audited)."""
    with opened_database() as database:
        shown = show_received(database, operator_actor(), report_id)
    document = _json_object(asdict(shown))
    if json_lines:
        print_json(document)
        return
    for name, value in document.items():
        if name == "sections":
            for label, section in value:
                sys.stdout.write(f"{label}: {json.dumps(section, ensure_ascii=False)}\n")
        elif value in (None, "", []):
            sys.stdout.write(f"{name}: -\n")
        elif isinstance(value, list | dict):
            sys.stdout.write(f"{name}: {json.dumps(value, ensure_ascii=False)}\n")
        else:
            sys.stdout.write(f"{name}: {value}\n")


def _json_object(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: _json_value(value) for name, value in fields.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return _json_object(value)
    return value
