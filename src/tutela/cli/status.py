"""`tutela status`: queues, deliveries and open alerts of the node at a glance, for people and
for monitoring (exit status 3 while an alert is open)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tutela.cli.app import app, load_settings, print_json
from tutela.cli.db import opened_database
from tutela.clock import utc_now
from tutela.operations.alerts import raise_alerts
from tutela.operations.node_status import NodeStatus, read_status

# Distinct from 1 (the command failed) and 2 (usage): the node answered, and something is wrong.
EXIT_ALERTS = 3


@app.command("status")
def status_command(
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Summarise queues (items, review, outbox, webhooks) and open alerts. Alerts are brought up
    to date first. Exit 0 when no alert is open, 3 while any is (for monitoring)."""
    settings = load_settings()
    with opened_database() as database:
        raise_alerts(database, settings, utc_now())
        with database.reader() as session:
            status = read_status(session, utc_now())
    if json_output:
        print_json(status.as_dict())
    else:
        sys.stdout.write(_text(status))
    if status.open_alerts:
        raise typer.Exit(EXIT_ALERTS)


def _text(status: NodeStatus) -> str:
    lines = [
        f"items       queued {status.items['queued']}, processing {status.items['processing']}",
        "review      "
        + ", ".join(f"{name} {count}" for name, count in status.review.items())
        + " (cases awaiting a decision)",
    ]
    if status.outbox:
        for transport, figures in sorted(status.outbox.items()):
            lines.append(
                f"outbox      {transport}: pending {figures['pending']}, failed {figures['failed']}"
            )
    else:
        lines.append("outbox      nothing pending or failed")
    lines.append(
        f"webhooks    pending {status.webhooks['pending']}, failed {status.webhooks['failed']}"
    )
    lines.append(f"alerts      {status.open_alerts} open")
    for alert in status.alerts:
        lines.append(f"  #{alert.id:<6} {alert.kind:<17} {alert.summary}")
    return "\n".join(lines) + "\n"
