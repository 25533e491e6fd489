"""`tutela authority order block|delist`: a case officer issues a blocking order (Art 16, to an
internet access service) or a delisting order (to a search engine) naming entries of the
Centre's URL list by number and URL (`--entry 12=https://…`), in force until `--ends`."""

from __future__ import annotations

from typing import Annotated

import typer

from tutela.authority.access_issuing import issue_access_order
from tutela.authority.issuing import DEFAULT_REDRESS
from tutela.cli.authority import issue_and_show, order_app
from tutela.orders.access_documents import end_of, entry_of
from tutela.orders.states import OrderKind

EntryOption = Annotated[
    list[str],
    typer.Option("--entry", help="An entry of the Centre's URL list, as NUMBER=URL (repeatable)."),
]
EndsOption = Annotated[
    str, typer.Option("--ends", help="When the order ends (ISO 8601 date or time; ≤ 5 years).")
]
ProviderOption = Annotated[str, typer.Option("--provider", help="The provider's registered name.")]
ReasonsOption = Annotated[str, typer.Option("--reasons", help="Why the URLs must be blocked.")]
ByOption = Annotated[str, typer.Option("--by", help="Your console account (role case_officer).")]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


@order_app.command("block")
def block_command(
    provider: ProviderOption,
    entry: EntryOption,
    ends: EndsOption,
    reasons: ReasonsOption,
    by: ByOption,
    legal_basis: Annotated[str, typer.Option("--legal-basis")] = "",
    redress: Annotated[str, typer.Option("--redress")] = DEFAULT_REDRESS,
    json_lines: JsonOption = False,
) -> None:
    """Sign a blocking order (Art 16) and queue it for the provider, with its Centre copy."""
    _issue(OrderKind.BLOCKING, provider, entry, ends, reasons, by, legal_basis, redress, json_lines)


@order_app.command("delist")
def delist_command(
    provider: ProviderOption,
    entry: EntryOption,
    ends: EndsOption,
    reasons: ReasonsOption,
    by: ByOption,
    legal_basis: Annotated[str, typer.Option("--legal-basis")] = "",
    redress: Annotated[str, typer.Option("--redress")] = DEFAULT_REDRESS,
    json_lines: JsonOption = False,
) -> None:
    """Sign a delisting order (to a search engine) and queue it, with its Centre copy."""
    _issue(
        OrderKind.DELISTING, provider, entry, ends, reasons, by, legal_basis, redress, json_lines
    )


def _issue(
    kind: OrderKind,
    provider: str,
    entries: list[str],
    ends: str,
    reasons: str,
    by: str,
    legal_basis: str,
    redress: str,
    json_lines: bool,
) -> None:
    named = [entry_of(value) for value in entries]
    issue_and_show(
        lambda database, issuer, key: issue_access_order(
            database,
            by,
            provider,
            kind,
            named,
            end_of(ends),
            reasons,
            issuer,
            key,
            legal_basis=legal_basis,
            redress=redress,
        ),
        json_lines,
        kind.value,
        "URL(s)",
    )
