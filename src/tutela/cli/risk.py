"""`tutela risk export|due`: the Art 5 report of a signed-off risk assessment as a signed file
(until the authority node takes it over the network), and which assessments are due again.
Export is done under a compliance officer's console account (`--by`) and audited under it."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from tutela.cli.app import app, load_settings, print_json
from tutela.cli.db import opened_database
from tutela.clock import SystemClock
from tutela.messaging.signing import default_key_file, load_key_file
from tutela.reporting.fields import ProviderIdentity
from tutela.risk.art5_report import export_report
from tutela.risk.policy import RiskPolicy
from tutela.risk.reminders import next_due, reassessments_due

risk_app = typer.Typer(
    name="risk", help="The risk assessment register (Art 3-5).", no_args_is_help=True
)
app.add_typer(risk_app, name="risk")
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


@risk_app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", help="File to write the signed report to.")],
    by: Annotated[str, typer.Option("--by", help="Your console account (compliance_officer).")],
    service: Annotated[
        str | None, typer.Option("--service", help="The service (needed when several).")
    ] = None,
    json_lines: JsonOption = False,
) -> None:
    """Sign the Art 5 report of the newest signed-off assessment with the provider's key and
    write it to FILE (the document, its signature and the public key to verify it)."""
    settings = load_settings()
    key = load_key_file(default_key_file(settings))
    with opened_database() as database:
        exported = export_report(
            database,
            by,
            key,
            ProviderIdentity.from_settings(settings),
            RiskPolicy.of(settings),
            service=service,
            clock=SystemClock(),
        )
    # Written whole or not at all: a half-written report must not pass for the signed one.
    partial = out.with_name(out.name + ".part")
    partial.write_bytes(exported.file_bytes)
    os.replace(partial, out)
    if json_lines:
        print_json({"service": exported.service, "version": exported.version, "out": str(out)})
    else:
        sys.stdout.write(
            f"Art 5 report of {exported.service}, version {exported.version}, signed: {out}\n"
        )


@risk_app.command("due")
def due_command(json_lines: JsonOption = False) -> None:
    """When each service's assessment is due again, and which are due now."""
    now = SystemClock().now()
    with opened_database() as database, database.reader() as session:
        due = {r.service: r for r in reassessments_due(session, now)}
        upcoming = next_due(session)
    for entry in upcoming:
        reminder = due.get(entry.service)
        if json_lines:
            print_json(
                {
                    "service": entry.service,
                    "version": entry.version,
                    "reassess_by": entry.reassess_by.isoformat(),
                    "due": reminder is not None,
                    "reason": reminder.reason if reminder else None,
                }
            )
        else:
            state = f"DUE ({reminder.reason})" if reminder else "ok"
            sys.stdout.write(
                f"{entry.service}  version {entry.version}  by {entry.reassess_by:%Y-%m-%d}  "
                f"{state}\n"
            )
