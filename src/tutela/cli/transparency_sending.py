"""`tutela transparency send --year Y`: the provider's yearly figures (Art 83(2)), signed with
its key and queued for the authority node of its Coordinating Authority of establishment
(TUTELA_COORDINATING_AUTHORITY_URL); the node's sender delivers them. Figures of a year not yet
over travel marked provisional (`complete: false`); corrected figures travel as a new document."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tutela.cli.app import load_settings, print_json
from tutela.cli.audit import operator_actor
from tutela.cli.db import opened_database
from tutela.cli.transparency import transparency_app
from tutela.clock import SystemClock
from tutela.compliance.sending import compliance_endpoint, send_yearly_figures
from tutela.messaging.signing import default_key_file, load_key_file
from tutela.reporting.fields import ProviderIdentity


@transparency_app.command("send")
def send_command(
    year: Annotated[int, typer.Option("--year", help="The calendar year (UTC).")],
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Queue the provider's signed figures of YEAR for the authority."""
    settings = load_settings()
    url = compliance_endpoint(settings)
    key = load_key_file(default_key_file(settings))
    with opened_database() as database:
        queued = send_yearly_figures(
            database,
            year,
            key,
            ProviderIdentity.from_settings(settings),
            url,
            actor=operator_actor(),
            clock=SystemClock(),
        )
    if json_lines:
        print_json(queued.as_dict())
    else:
        sys.stdout.write(
            f"figures of {year} queued for {queued.url} (outbox message {queued.message_id}, "
            f"{queued.status})\n"
        )
