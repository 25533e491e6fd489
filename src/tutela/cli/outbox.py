"""`tutela outbox run|deliver`: the provider's sender of reports to the centre (and followers of
the centre's indicator feed). `tutela serve` starts the same loop in a thread through
`start_provider_sender`; `outbox run` runs it alone, e.g. beside an API-only node."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from functools import partial
from typing import Annotated

import typer

from tutela.cli.app import app, load_settings, print_json
from tutela.cli.db import opened_database
from tutela.db.database import Database
from tutela.db.types import utc_now
from tutela.enforcement.schedule import enforcement_tasks
from tutela.indicators.feed_subscription import HttpFeedClient, follow_feed, subscribed_banks
from tutela.reporting.outbox import deliver_due
from tutela.reporting.sender import PeriodicTask, run_sender, start_sender_thread
from tutela.reporting.signing import default_key_file, load_key_file
from tutela.reporting.transports import ReportTransport, TransportContext, create_transports
from tutela.reporting.transports.http import open_client
from tutela.settings import Settings

outbox_app = typer.Typer(name="outbox", help="Messages to other nodes.", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")
log = logging.getLogger("tutela.outbox")


def provider_transports(settings: Settings, database: Database) -> dict[str, ReportTransport]:
    """The transports this provider delivers through: the centre once TUTELA_CENTRE_URL is set."""
    names = ["centre"] if settings.centre_url else []
    context = TransportContext(settings, database, open_client())
    return create_transports(names, context)


def feed_tasks(settings: Settings, database: Database) -> list[PeriodicTask]:
    """One periodic task that brings every subscribed bank up to date with the centre's feed."""
    key_file = default_key_file(settings)
    if not key_file.exists():
        return []  # the feed is for registered providers; without a key there is no access
    client = HttpFeedClient(open_client(), load_key_file(key_file))

    def follow_all() -> None:
        for bank in subscribed_banks(database):
            try:
                follow_feed(database, bank, client, utc_now())
            except Exception as error:  # one bank's trouble must not stop the others
                log.warning("bank %s: feed not followed: %s", bank, type(error).__name__)

    return [PeriodicTask("indicator-feed", settings.feed_interval_s, follow_all)]


def start_provider_sender(settings: Settings, database: Database) -> Callable[[], None]:
    """Start the provider's sender in a daemon thread, with the feed followers and the timed
    steps of enforcement; return the function that stops it."""
    return start_sender_thread(
        database,
        provider_transports(settings, database),
        interval_s=settings.outbox_interval_s,
        max_attempts=settings.outbox_max_attempts,
        claim_s=settings.outbox_claim_s,
        backoff_base_s=settings.outbox_backoff_s,
        tasks=[*feed_tasks(settings, database), *enforcement_tasks(settings, database)],
    )


@outbox_app.command("run")
def run_command() -> None:
    """Deliver queued messages and follow subscribed feeds until stopped (SIGTERM, Ctrl-C)."""
    logging.basicConfig(level=logging.WARNING, format="tutela: %(message)s")
    settings = load_settings()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with opened_database() as database:
        try:
            run_sender(
                database,
                provider_transports(settings, database),
                stop,
                interval_s=settings.outbox_interval_s,
                max_attempts=settings.outbox_max_attempts,
                claim_s=settings.outbox_claim_s,
                backoff_base_s=settings.outbox_backoff_s,
                tasks=feed_tasks(settings, database),
            )
        except KeyboardInterrupt:
            stop.set()


@outbox_app.command("deliver")
def deliver_command(
    limit: Annotated[int, typer.Option(min=1, help="Messages to try at most.")] = 100,
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Deliver what is due once, and say what happened."""
    settings = load_settings()
    with opened_database() as database:
        deliver = partial(deliver_due, database, provider_transports(settings, database))
        run = deliver(utc_now(), limit=limit, max_attempts=settings.outbox_max_attempts)
    result = {
        "delivered": len(run.delivered),
        "retrying": len(run.retrying),
        "failed": len(run.failed),
    }
    if json_lines:
        print_json(result)
    else:
        sys.stdout.write(
            f"delivered {result['delivered']}, retrying {result['retrying']}, "
            f"failed {result['failed']}\n"
        )
