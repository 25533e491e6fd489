"""`tutela centre url add|list`: the Centre's list of URLs (Art 44(3)) that blocking and
delisting orders name; each addition is a senior analyst's act (`--analyst`), audited."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tutela.centre.url_list import add_url, list_urls
from tutela.cli.app import print_json
from tutela.cli.centre import centre_app
from tutela.cli.db import opened_database

url_app = typer.Typer(name="url", help="The Centre's URL list (Art 44(3)).", no_args_is_help=True)
centre_app.add_typer(url_app, name="url")
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


@url_app.command("add")
def url_add_command(
    url: Annotated[str, typer.Argument(help="The URL, http(s).")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is listed (stays here).")],
    analyst: Annotated[
        str, typer.Option("--analyst", help="The senior analyst's console account.")
    ],
    json_lines: JsonOption = False,
) -> None:
    """List a URL for blocking and delisting orders; providers receive it in the signed feed."""
    with opened_database() as database:
        view = add_url(database, analyst, url, reason)
    if json_lines:
        print_json({"id": view.id, "url": view.url, "host": view.host})
    else:
        sys.stdout.write(f"entry {view.id}: {view.url}\n")


@url_app.command("list")
def url_list_command(json_lines: JsonOption = False) -> None:
    """The list, oldest entry first."""
    with opened_database() as database:
        views = list_urls(database)
    for view in views:
        if json_lines:
            print_json(
                {
                    "id": view.id,
                    "url": view.url,
                    "host": view.host,
                    "added_at": view.added_at.isoformat(),
                }
            )
        else:
            sys.stdout.write(f"{view.id:>6}  {view.url}\n")
