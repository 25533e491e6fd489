"""`tutela orders rpz|urls|url-list`: on a provider node, what blocking and delisting orders in
force ask of it (Art 16-18), exported for the resolvers and proxies that do the blocking — a DNS
Response Policy Zone and the plain list of URLs — and the copy of the Centre's URL list that
orders must name entries of (`url-list follow`). Every export is audited."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tutela.cli.app import app, load_settings, print_json
from tutela.cli.audit import operator_actor
from tutela.cli.db import opened_database
from tutela.clock import utc_now
from tutela.errors import ConfigurationError, Unreadable
from tutela.messaging.http import open_client
from tutela.messaging.signing import default_key_file, load_key_file, load_public_key
from tutela.orders.access_exports import DEFAULT_ZONE, export_rpz, export_urls
from tutela.orders.states import OrderKind
from tutela.orders.url_list_feed import HttpUrlListClient, follow_url_list

orders_app = typer.Typer(
    name="orders", help="Blocking and delisting orders in force.", no_args_is_help=True
)
url_list_app = typer.Typer(
    name="url-list", help="The Centre's URL list (Art 44(3)).", no_args_is_help=True
)
app.add_typer(orders_app, name="orders")
orders_app.add_typer(url_list_app, name="url-list")
OutOption = Annotated[Path, typer.Option("--out", help="The file to write.")]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


@orders_app.command("rpz")
def rpz_command(
    out: OutOption,
    zone: Annotated[str, typer.Option("--zone", help="The zone's name.")] = DEFAULT_ZONE,
    json_lines: JsonOption = False,
) -> None:
    """Write the Response Policy Zone of the blocking orders in force: each ordered URL's host
    answers NXDOMAIN (DNS cannot block a path; IP-address URLs are left out)."""
    with opened_database() as database:
        export = export_rpz(database, operator_actor(), zone)
    _write(out, export.text, "ascii")
    if json_lines:
        print_json({"out": str(out), "hosts": len(export.hosts), "skipped": len(export.skipped)})
    else:
        sys.stdout.write(
            f"{len(export.hosts)} host(s) written to {out}; "
            f"{len(export.skipped)} IP-address URL(s) left out\n"
        )


@orders_app.command("urls")
def urls_command(
    out: OutOption,
    kind: Annotated[
        OrderKind, typer.Option("--kind", help="blocking or delisting orders.")
    ] = OrderKind.BLOCKING,
    json_lines: JsonOption = False,
) -> None:
    """Write the full URLs of the orders of KIND in force, one per line."""
    if kind == OrderKind.REMOVAL:
        raise typer.BadParameter("--kind is blocking or delisting")
    with opened_database() as database:
        urls = export_urls(database, operator_actor(), kind)
    # URLs as listed, which may hold non-ASCII characters (an internationalised host or path).
    _write(out, "".join(f"{url}\n" for url in urls), "utf-8")
    if json_lines:
        print_json({"out": str(out), "urls": len(urls)})
    else:
        sys.stdout.write(f"{len(urls)} URL(s) written to {out}\n")


@url_list_app.command("follow")
def url_list_follow_command(json_lines: JsonOption = False) -> None:
    """Fetch the Centre's URL list entries this node lacks (TUTELA_CENTRE_URL; pages verified
    against TUTELA_CENTRE_PUBLIC_KEY_FILE)."""
    settings = load_settings()
    if not settings.centre_url or settings.centre_public_key_file is None:
        raise ConfigurationError("set TUTELA_CENTRE_URL and TUTELA_CENTRE_PUBLIC_KEY_FILE")
    try:
        pem = settings.centre_public_key_file.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        raise Unreadable("cannot read TUTELA_CENTRE_PUBLIC_KEY_FILE") from None
    client = HttpUrlListClient(open_client(), load_key_file(default_key_file(settings)))
    with opened_database() as database:
        report = follow_url_list(
            database, client, settings.centre_url, load_public_key(pem), utc_now()
        )
    if json_lines:
        print_json({"pages": report.pages, "added": report.added})
    else:
        sys.stdout.write(f"{report.added} new entr(ies) of the Centre's URL list\n")


def _write(out: Path, text: str, encoding: str) -> None:
    try:
        out.write_text(text, encoding=encoding)
    except OSError:
        raise Unreadable(f"cannot write {out}") from None
