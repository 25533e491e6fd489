"""`tutela risk send`: the Art 5 report of the newest signed-off risk assessment, signed with the
provider's key and queued for the authority node of its Coordinating Authority of establishment
(TUTELA_COORDINATING_AUTHORITY_URL); the node's sender delivers it. Done under a compliance
officer's console account (`--by`) and audited under it."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tutela.cli.app import load_settings, print_json
from tutela.cli.db import opened_database
from tutela.cli.risk import JsonOption, risk_app
from tutela.clock import SystemClock
from tutela.compliance.sending import compliance_endpoint, send_risk_report
from tutela.messaging.signing import default_key_file, load_key_file
from tutela.reporting.fields import ProviderIdentity
from tutela.risk.policy import RiskPolicy


@risk_app.command("send")
def send_command(
    by: Annotated[str, typer.Option("--by", help="Your console account (compliance_officer).")],
    service: Annotated[
        str | None, typer.Option("--service", help="The service (needed when several).")
    ] = None,
    json_lines: JsonOption = False,
) -> None:
    """Queue the signed Art 5 report of the newest signed-off assessment for the authority
    (sent again only if its version changed)."""
    settings = load_settings()
    url = compliance_endpoint(settings)
    key = load_key_file(default_key_file(settings))
    with opened_database() as database:
        queued = send_risk_report(
            database,
            by,
            key,
            ProviderIdentity.from_settings(settings),
            RiskPolicy.of(settings),
            url,
            service=service,
            clock=SystemClock(),
        )
    if json_lines:
        print_json(queued.as_dict())
    else:
        sys.stdout.write(
            f"Art 5 report queued for {queued.url} (outbox message {queued.message_id}, "
            f"{queued.status})\n"
        )
