"""`tutela notices release-due` and `tutela takedowns resend-due`: the timed steps of enforcement,
for an operator or a scheduler (cron, a Kubernetes CronJob) to run every few minutes."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Annotated

import typer

from tutela.cli.app import app, load_settings, print_json
from tutela.cli.audit import operator_actor
from tutela.cli.db import opened_database
from tutela.enforcement.notices import release_due
from tutela.enforcement.takedown import resend_due

notices_app = typer.Typer(
    name="notices", help="User notices held through silence periods.", no_args_is_help=True
)
takedowns_app = typer.Typer(
    name="takedowns", help="Takedown requests to the platform.", no_args_is_help=True
)
app.add_typer(notices_app, name="notices")
app.add_typer(takedowns_app, name="takedowns")
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object.")]


@notices_app.command("release-due")
def release_due_command(json_lines: JsonOption = False) -> None:
    """Release every held notice whose silence period ran out (Art 12(2)) and that no authority
    still holds (Art 48(6)), through the platform webhook."""
    with opened_database() as database:
        released = release_due(database, actor=operator_actor())
    if json_lines:
        print_json({"released": released})
    else:
        sys.stdout.write(f"released {released} notice{'s' if released != 1 else ''}\n")


@takedowns_app.command("resend-due")
def resend_due_command(json_lines: JsonOption = False) -> None:
    """Ask the platform again about every takedown it has not confirmed in time."""
    settings = load_settings()
    with opened_database() as database:
        sent = resend_due(database, timedelta(hours=settings.takedown_resend_hours))
    if json_lines:
        print_json({"sent": sent})
    else:
        sys.stdout.write(f"sent {sent} takedown request{'s' if sent != 1 else ''} again\n")
