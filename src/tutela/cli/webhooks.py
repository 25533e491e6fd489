"""`tutela webhooks deliveries|requeue`: the platforms' webhook deliveries, listed with the error
each last failed with (never a body), and failed ones sent again once the platform fixed its
endpoint, with the same Idempotency-Key (tutela.operations.webhook_deliveries)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tutela.cli.app import app, print_json
from tutela.cli.audit import operator_actor
from tutela.cli.db import opened_database
from tutela.clock import utc_now
from tutela.detection.models import DeliveryState
from tutela.operations.webhook_deliveries import (
    Selection,
    list_deliveries,
    parse_since,
    requeue_by_account,
)

webhooks_app = typer.Typer(
    name="webhooks",
    help="Platform webhook deliveries: list them, send failed ones again.",
    no_args_is_help=True,
)
app.add_typer(webhooks_app, name="webhooks")
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]
PlatformOption = Annotated[
    str | None, typer.Option("--platform", help="Only deliveries to this platform.")
]


@webhooks_app.command("deliveries")
def deliveries_command(
    failed: Annotated[
        bool, typer.Option("--failed", help="Only deliveries failed for good.")
    ] = False,
    platform: PlatformOption = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=10_000, help="At most this many.")
    ] = 100,
    json_lines: JsonOption = False,
) -> None:
    """List webhook deliveries, newest first, with how each last try ended; never a body."""
    with opened_database() as database, database.reader() as session:
        views = list_deliveries(
            session, state=DeliveryState.FAILED if failed else None, platform=platform, limit=limit
        )
    for view in views:
        if json_lines:
            print_json(view.as_dict())
        else:
            sys.stdout.write(
                f"{view.id:>8}  {view.platform:<16} hook {view.webhook_id:<4} "
                f"{view.event or '-':<24} {view.state:<9} tries {view.attempts:<3} "
                f"{view.last_error or '-'}\n"
            )
    if not views and not json_lines:
        sys.stdout.write("no such delivery\n")


@webhooks_app.command("requeue")
def requeue_command(
    by: Annotated[str, typer.Option("--by", help="Your console account (administrator).")],
    delivery_ids: Annotated[
        list[int] | None,
        typer.Argument(
            metavar="DELIVERY_ID",
            help="Failed deliveries' ids (`tutela webhooks deliveries --failed`).",
        ),
    ] = None,
    all_failed: Annotated[
        bool, typer.Option("--all-failed", help="Every failed delivery (narrowed by the below).")
    ] = False,
    platform: PlatformOption = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only those whose last try was at or after this: ISO 8601 with a time zone, "
            "or a span before now (90m, 2h, 1d).",
        ),
    ] = None,
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Put failed deliveries back to pending with a fresh count of attempts; each keeps its
    Idempotency-Key, so the platform de-duplicates. Audited under --by."""
    now = utc_now()
    selection = Selection(
        ids=tuple(delivery_ids or ()),
        all_failed=all_failed,
        platform=platform,
        since=parse_since(since, now) if since is not None else None,
    )
    with opened_database() as database:
        requeued = requeue_by_account(database, by, selection, now, via=operator_actor())
    if json_lines:
        print_json(requeued.as_dict())
    elif not requeued.ids:
        sys.stdout.write("no failed delivery matched\n")
    else:
        platforms = ", ".join(
            f"{name} {count}" for name, count in sorted(requeued.by_platform.items())
        )
        sys.stdout.write(f"{len(requeued.ids)} deliveries queued again ({platforms})\n")
