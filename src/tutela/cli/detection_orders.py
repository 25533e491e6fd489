"""`tutela authority order detect`: a case officer issues a detection order (Art 7-11) for the
provider's service parts (`--service`, repeatable), the kinds of detection (`--kind known`),
from `--starts` (default now) to `--ends` (at most 24 months; 12 with solicitation), with the
safeguards the provider must apply."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tutela.authority.detection_issuing import DEFAULT_LEGAL_BASIS, issue_detection_order
from tutela.authority.issuing import DEFAULT_REDRESS, Issuer
from tutela.authority.keys import load_authority_key
from tutela.cli.app import load_settings, print_json
from tutela.cli.authority import order_app
from tutela.cli.db import opened_database
from tutela.orders.access_documents import end_of


@order_app.command("detect")
def detect_command(
    provider: Annotated[str, typer.Option("--provider", help="The provider's registered name.")],
    service: Annotated[
        list[str],
        typer.Option("--service", help="A service part, as the provider's items name it."),
    ],
    ends: Annotated[
        str, typer.Option("--ends", help="When it ends (ISO 8601; ≤ 24 months, 12 solicitation).")
    ],
    safeguards: Annotated[
        str, typer.Option("--safeguards", help="The safeguards the provider must apply (Art 7(8)).")
    ],
    reasons: Annotated[str, typer.Option("--reasons", help="Why the order is issued.")],
    by: Annotated[str, typer.Option("--by", help="Your console account (role case_officer).")],
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", help="known, new or solicitation (repeatable; default known)."),
    ] = None,
    indicator: Annotated[
        list[str] | None,
        typer.Option(
            "--indicator", help="The Centre's indicator databases to use (default: the kinds)."
        ),
    ] = None,
    starts: Annotated[
        str | None, typer.Option("--starts", help="When it starts (ISO 8601; default now).")
    ] = None,
    legal_basis: Annotated[str, typer.Option("--legal-basis")] = DEFAULT_LEGAL_BASIS,
    redress: Annotated[str, typer.Option("--redress")] = DEFAULT_REDRESS,
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Sign a detection order and queue it for the provider, with its Centre copy."""
    settings = load_settings()
    issuer = Issuer.of(settings)
    key = load_authority_key(settings)
    with opened_database() as database:
        view = issue_detection_order(
            database,
            by,
            provider,
            service,
            kind or ["known"],
            end_of(ends),
            safeguards,
            reasons,
            issuer,
            key,
            indicators=indicator or None,
            starts_at=end_of(starts) if starts else None,
            legal_basis=legal_basis,
            redress=redress,
        )
    if json_lines:
        print_json({"id": view.id, "order_id": view.order_id, "provider": view.provider})
    else:
        sys.stdout.write(
            f"detection order {view.id} ({view.order_id}) for {view.items} service part(s) "
            f"queued for {view.provider}\n"
        )
