"""Each node's outbox sender, assembled here and nowhere else: the transports it delivers
through and the periodic tasks it runs beside delivery, under the settings every node's sender
shares (TUTELA_OUTBOX_*). A serving command starts it in a thread beside the HTTP app (once, however
many HTTP workers there are); `tutela outbox run` runs the provider's alone."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from tutela.centre.deliveries import centre_transports
from tutela.centre.keys import load_centre_key
from tutela.db.database import Database
from tutela.messaging.http import open_client
from tutela.messaging.sender import PeriodicTask, run_sender, start_sender_thread
from tutela.messaging.transports import Transport
from tutela.operations.sender_tasks import alert_task, alert_transports
from tutela.orders.transport import order_transports
from tutela.settings import Settings


@dataclass(frozen=True)
class Sender:
    """One node's sender: where its messages go, and what else it runs on a timer."""

    settings: Settings
    database: Database
    transports: Mapping[str, Transport]
    tasks: Sequence[PeriodicTask] = ()

    def start(self) -> Callable[[], None]:
        """Run in a daemon thread; return the function that stops it."""
        settings = self.settings
        return start_sender_thread(
            self.database,
            self.transports,
            interval_s=settings.outbox_interval_s,
            max_attempts=settings.outbox_max_attempts,
            claim_s=settings.outbox_claim_s,
            backoff_base_s=settings.outbox_backoff_s,
            tasks=self.tasks,
        )

    def run(self, stop: threading.Event) -> None:
        """Run in this thread until `stop` is set."""
        settings = self.settings
        run_sender(
            self.database,
            self.transports,
            stop,
            interval_s=settings.outbox_interval_s,
            max_attempts=settings.outbox_max_attempts,
            claim_s=settings.outbox_claim_s,
            backoff_base_s=settings.outbox_backoff_s,
            tasks=self.tasks,
        )


def centre_sender(settings: Settings, database: Database) -> Sender:
    """The centre's: forwarded reports and messages to providers, Europol and LEAs, signed with
    the centre's key; the operator's alerts."""
    client = open_client()
    transports = centre_transports(database, client, load_centre_key(settings))
    return Sender(
        settings,
        database,
        {**transports, **alert_transports(settings, client)},
        [alert_task(settings, database)],
    )


def authority_sender(settings: Settings, database: Database) -> Sender:
    """The authority's: its signed orders to providers and their copies to the EU Centre; the
    operator's alerts."""
    client = open_client()
    return Sender(
        settings,
        database,
        {**order_transports(client), **alert_transports(settings, client)},
        [alert_task(settings, database)],
    )
