"""`tutela authority serve|keys|provider|order`: running an authority node (a Coordinating
Authority or court) that issues signed removal orders; and `tutela authority-key add|list`, by
which a provider node (or the EU Centre) trusts an authority's key for its orders. Every act on
the authority node names the console account it is done under (`--by`), which must exist, be
active and hold the role the act needs (administrator for the register, case_officer for
orders); the act is audited under it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from tutela.authority.impediment_answers import answer_impediment
from tutela.authority.issuing import (
    DEFAULT_LEGAL_BASIS,
    DEFAULT_REDRESS,
    IssuedView,
    Issuer,
    issue_removal_order,
)
from tutela.authority.keys import authority_key_file, load_authority_key
from tutela.authority.providers import add_provider
from tutela.authority.reports import OrderView, list_orders, show_order
from tutela.cli.app import app, load_settings, print_json
from tutela.cli.audit import operator_actor
from tutela.cli.db import opened_database
from tutela.cli.key_files import ForceOption, PublicOutOption, generate_and_show
from tutela.db.database import Database
from tutela.errors import InvalidInput, Unreadable
from tutela.logs import configure_logging
from tutela.messaging.signing import SigningKey
from tutela.orders.answer_documents import AnswerKind
from tutela.orders.authority_keys import add_authority_key, list_authority_keys
from tutela.orders.documents import ITEM_KEYS

authority_app = typer.Typer(
    name="authority", help="The authority node: removal orders.", no_args_is_help=True
)
keys_app = typer.Typer(name="keys", help="The authority's signing key.", no_args_is_help=True)
provider_app = typer.Typer(name="provider", help="Providers it orders.", no_args_is_help=True)
order_app = typer.Typer(name="order", help="Removal orders (Art 14).", no_args_is_help=True)
authority_key_app = typer.Typer(
    name="authority-key",
    help="Authorities whose signed orders this node accepts.",
    no_args_is_help=True,
)
app.add_typer(authority_app, name="authority")
app.add_typer(authority_key_app, name="authority-key")
authority_app.add_typer(keys_app, name="keys")
authority_app.add_typer(provider_app, name="provider")
authority_app.add_typer(order_app, name="order")
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]
ByOption = Annotated[str, typer.Option("--by", help="Your console account.")]


@authority_app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8200,
) -> None:
    """Run the authority node: the execution reports' endpoint, and the outbox sender that
    delivers its signed orders to providers and their copies to the EU Centre."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    # The node's web app and console, imported only to serve: the other `authority` commands
    # (keys, decisions, listings) start without FastAPI and the templates.
    from tutela.nodes.authority import serve_authority

    serve_authority(settings, host=host, port=port)


@keys_app.command("generate")
def keys_generate_command(
    public_out: PublicOutOption = None, force: ForceOption = False, json_lines: JsonOption = False
) -> None:
    """Write the authority's Ed25519 key; providers and the Centre trust its public key."""
    generate_and_show(authority_key_file(load_settings()), force, public_out, json_lines)


@provider_app.command("add")
def provider_add_command(
    name: Annotated[str, typer.Argument(help="The provider's legal name.")],
    public_key: Annotated[
        Path, typer.Option("--public-key", help="The provider's public key (PEM).")
    ],
    url: Annotated[
        str,
        typer.Option("--url", help="Its order endpoint, e.g. https://provider.example/v1/orders."),
    ],
    country: Annotated[str, typer.Option("--country", help="Member State (ISO 3166).")],
    by: ByOption,
    service: Annotated[
        list[str] | None, typer.Option("--service", help="A service it runs (repeatable).")
    ] = None,
    legal_representative: Annotated[
        str, typer.Option("--legal-representative", help="Its legal representative in the EU.")
    ] = "",
    json_lines: JsonOption = False,
) -> None:
    """Register a provider this authority may order (an administrator's act)."""
    pem = _read_pem(public_key)
    with opened_database() as database:
        view = add_provider(
            database,
            by,
            name,
            pem,
            url,
            country,
            service or [],
            legal_representative=legal_representative,
        )
    if json_lines:
        print_json({"id": view.id, "name": view.name, "key_id": view.key_id})
    else:
        sys.stdout.write(f"registered provider {view.name} with key {view.key_id}\n")


@order_app.command("issue")
def order_issue_command(
    provider: Annotated[str, typer.Option("--provider", help="The provider's registered name.")],
    item_ref: Annotated[
        list[str],
        typer.Option(
            "--item-ref",
            help="An item, as item_id=ID, url=URL or sha256=HEX (repeatable); a bare value is "
            "the provider's item id.",
        ),
    ],
    reasons: Annotated[str, typer.Option("--reasons", help="Why the items must go (Annex IV).")],
    by: Annotated[str, typer.Option("--by", help="Your console account (role case_officer).")],
    legal_basis: Annotated[str, typer.Option("--legal-basis")] = DEFAULT_LEGAL_BASIS,
    redress: Annotated[str, typer.Option("--redress")] = DEFAULT_REDRESS,
    non_disclosure_weeks: Annotated[
        int,
        typer.Option("--non-disclosure-weeks", help="Weeks the uploader is told nothing (0-6)."),
    ] = 0,
    json_lines: JsonOption = False,
) -> None:
    """Sign a removal order and queue it for the provider, with its copy for the EU Centre."""
    settings = load_settings()
    issuer = Issuer.of(settings)
    key = load_authority_key(settings)
    refs = [_item_ref(value) for value in item_ref]
    with opened_database() as database:
        view = issue_removal_order(
            database,
            by,
            provider,
            refs,
            reasons,
            issuer,
            key,
            legal_basis=legal_basis,
            redress=redress,
            non_disclosure_weeks=non_disclosure_weeks,
        )
    if json_lines:
        print_json(
            {
                "id": view.id,
                "order_id": view.order_id,
                "provider": view.provider,
                "state": view.state,
            }
        )
    else:
        sys.stdout.write(
            f"order {view.id} ({view.order_id}) for {view.items} item(s) queued for "
            f"{view.provider}\n"
        )


@order_app.command("answer")
def order_answer_command(
    order: Annotated[str, typer.Argument(help="The order's number or id.")],
    by: Annotated[str, typer.Option("--by", help="Your console account (role case_officer).")],
    clarification: Annotated[
        str | None,
        typer.Option(
            "--clarification",
            help="Answer the impediment: the provider's clock restarts from its receipt.",
        ),
    ] = None,
    withdraw: Annotated[
        bool, typer.Option("--withdraw", help="Withdraw the order instead.")
    ] = False,
    json_lines: JsonOption = False,
) -> None:
    """Answer the impediment an order's execution report names (Art 14(5)-(6)): a signed
    clarification, or the order's withdrawal, queued for the provider."""
    if withdraw == (clarification is not None):
        raise InvalidInput("give either --clarification TEXT or --withdraw")
    settings = load_settings()
    issuer = Issuer.of(settings)
    key = load_authority_key(settings)
    kind = AnswerKind.WITHDRAWN if withdraw else AnswerKind.CLARIFICATION
    with opened_database() as database:
        view = answer_impediment(
            database,
            by,
            order,
            kind,
            issuer.name,
            key,
            clarification=clarification,
            centre_url=issuer.centre_url,
        )
    if json_lines:
        print_json(view.as_dict())
    else:
        sys.stdout.write(
            f"order {view.order} ({view.order_id}): answer {view.number} ({view.answer}) "
            f"queued for the provider; the order is {view.state}\n"
        )


@order_app.command("list")
def order_list_command(
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 100,
    json_lines: JsonOption = False,
) -> None:
    """The authority's orders, newest first, with their state and delivery."""
    with opened_database() as database:
        views = list_orders(database, limit)
    for view in views:
        _print_order(view, json_lines, brief=True)
    if not views and not json_lines:
        sys.stdout.write("no order\n")


@order_app.command("show")
def order_show_command(
    order: Annotated[str, typer.Argument(help="The order's number or id.")],
    json_lines: JsonOption = False,
) -> None:
    """One order: its state, delivery and each item's outcome from the execution report."""
    with opened_database() as database:
        view = show_order(database, order)
    _print_order(view, json_lines, brief=False)


@authority_key_app.command("add")
def authority_key_add_command(
    name: Annotated[str, typer.Argument(help="The authority's name.")],
    public_key: Annotated[
        Path, typer.Option("--public-key", help="The authority's public key (PEM).")
    ],
    json_lines: JsonOption = False,
) -> None:
    """Accept the signed orders of an authority (on a provider node; on the EU Centre, their
    copies)."""
    pem = _read_pem(public_key)
    with opened_database() as database:
        view = add_authority_key(database, operator_actor(), name, pem)
    if json_lines:
        print_json({"id": view.id, "name": view.name, "key_id": view.key_id})
    else:
        sys.stdout.write(f"orders signed by {view.name} (key {view.key_id}) are accepted\n")


@authority_key_app.command("list")
def authority_key_list_command(json_lines: JsonOption = False) -> None:
    """The authorities whose orders this node accepts."""
    with opened_database() as database:
        views = list_authority_keys(database)
    for view in views:
        if json_lines:
            print_json({"id": view.id, "name": view.name, "key_id": view.key_id})
        else:
            sys.stdout.write(f"{view.id:>4}  {view.key_id}  {view.name}\n")


def issue_and_show(
    issue: Callable[[Database, Issuer, SigningKey], IssuedView],
    json_lines: bool,
    kind: str,
    unit: str,
) -> None:
    """Issue one order the way `issue` does, under the node's settings, key and database, and
    say so: its ids (`--json`) or a line naming how many `unit`s it names."""
    settings = load_settings()
    issuer = Issuer.of(settings)
    key = load_authority_key(settings)
    with opened_database() as database:
        view = issue(database, issuer, key)
    if json_lines:
        print_json({"id": view.id, "order_id": view.order_id, "provider": view.provider})
    else:
        sys.stdout.write(
            f"{kind} order {view.id} ({view.order_id}) for {view.items} {unit} "
            f"queued for {view.provider}\n"
        )


def _item_ref(value: str) -> tuple[str, str]:
    key, sep, rest = value.partition("=")
    if not sep:
        return "item_id", value
    if key not in ITEM_KEYS:
        raise InvalidInput(f"--item-ref is item_id=…, url=… or sha256=…, not {key}=…")
    return key, rest


def _read_pem(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        raise Unreadable(f"cannot read the public key file {path}") from None


def _print_order(view: OrderView, json_lines: bool, *, brief: bool) -> None:
    if json_lines:
        print_json(view.as_dict())
        return
    sys.stdout.write(
        f"{view.id:>6}  {view.order_id}  {view.state:<10} {view.delivery:<12} {view.provider}\n"
    )
    if brief:
        return
    for item in view.items:
        outcome = item.get("outcome") or "-"
        detail = item.get("at") or item.get("impediment") or ""
        sys.stdout.write(f"        item {item.get('ref')}: {outcome} {detail}\n")
