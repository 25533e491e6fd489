"""`tutela authority order detect`: a case officer issues a detection order (Art 7-11) for the
provider's service parts (`--service`, repeatable), the kinds of detection (`--kind known`),
from `--starts` (default now) to `--ends` (at most 24 months; 12 with solicitation), with the
safeguards the provider must apply."""

from __future__ import annotations

from typing import Annotated

import typer

from tutela.authority.detection_issuing import DEFAULT_LEGAL_BASIS, issue_detection_order
from tutela.authority.issuing import DEFAULT_REDRESS
from tutela.cli.authority import issue_and_show, order_app
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
    issue_and_show(
        lambda database, issuer, key: issue_detection_order(
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
        ),
        json_lines,
        "detection",
        "service part(s)",
    )
