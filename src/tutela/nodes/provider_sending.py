"""The provider's outbox sender, assembled: the transports it delivers through (the EU Centre,
NCMEC's CyberTipline, the authorities' execution reports, the DSA Transparency Database, the
operator's alerts) and the periodic tasks it runs beside delivery (the centre's indicator feed,
the timed steps of enforcement and orders, the matcher snapshot). `tutela serve` starts it in a
thread beside the API (tutela.nodes.provider.serve_provider); `tutela outbox run` runs it alone."""

from __future__ import annotations

import logging
import socket
import sys
from functools import partial
from typing import BinaryIO

from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.enforcement.schedule import enforcement_tasks
from tutela.enforcement.vault import PreservationReason, Vault
from tutela.errors import ConfigurationError
from tutela.indicators.feed_subscription import HttpFeedClient, follow_feed, subscribed_banks
from tutela.indicators.snapshot_keeper import EVERY_S as SNAPSHOT_EVERY_S
from tutela.indicators.snapshot_keeper import SnapshotKeeper
from tutela.messaging.http import open_client
from tutela.messaging.sender import PeriodicTask
from tutela.messaging.signing import default_key_file, load_key_file
from tutela.messaging.transports import (
    ContentSource,
    Transport,
    TransportContext,
    create_transports,
)
from tutela.nodes.sending import Sender
from tutela.operations.sender_tasks import alert_task, alert_transports
from tutela.orders.access_exports import end_orders
from tutela.orders.access_reports import report_access_orders
from tutela.orders.deadlines import EVERY_S as ORDERS_EVERY_S
from tutela.orders.deadlines import mark_overdue
from tutela.orders.transport import order_transports
from tutela.reporting.filing import NCMEC
from tutela.reporting.transports.dsa_tdb import statement_transports
from tutela.review.confirmation import report_destinations
from tutela.settings import Settings

log = logging.getLogger("tutela.outbox")

# Who opens the vault to upload reported content to NCMEC, and why (both go to the audit log).
NCMEC_ACTOR = "system:ncmec-transport"
NCMEC_PURPOSE = "upload to the NCMEC CyberTipline report of this item (18 U.S.C. 2258A)"


def provider_transports(settings: Settings, database: Database) -> dict[str, Transport]:
    """The transports this provider delivers through: the centre once TUTELA_CENTRE_URL is set,
    NCMEC's CyberTipline with TUTELA_REPORT_NCMEC (see report_destinations)."""
    names = report_destinations(settings)
    content = reported_content(settings, database) if NCMEC in names else None
    context = TransportContext(settings, database, open_client(), content_source=content)
    transports = create_transports(names, context)
    # Execution reports of removal orders go back to the authorities (tutela.orders).
    orders = order_transports(context.client)
    # Statements of reasons go to the DSA Transparency Database once TUTELA_DSA_TDB_URL is set.
    statements = statement_transports(context)
    return {**transports, **orders, **statements, **alert_transports(settings, context.client)}


def reported_content(settings: Settings, database: Database) -> ContentSource:
    """The content of a reported item, for a transport that uploads it (NCMEC): opened from
    the evidence vault, where the confirmation preserved it, each opening in the audit log; a
    readable file that reads the record chunk by chunk (a video is never whole in memory)."""
    try:
        vault = Vault.from_settings(settings)
    except ConfigurationError as error:
        raise ConfigurationError(
            "TUTELA_REPORT_NCMEC uploads reported content from the evidence vault, with the key "
            f"of the node that decides: {error.message}"
        ) from None

    def content(item_ref: str) -> BinaryIO | None:
        evidence = vault.open_latest_stream(
            database, item_ref, PreservationReason.REPORT, NCMEC_ACTOR, NCMEC_PURPOSE
        )
        return evidence.reader() if evidence is not None else None

    return content


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


def this_machine_lock() -> str:
    """The lock name of the snapshot keeper: one per machine, not one per node."""
    return f"matcher-snapshot:{socket.gethostname()}"


def provider_tasks(settings: Settings, database: Database) -> list[PeriodicTask]:
    """What the provider's sender runs beside delivery: the feed followers, the timed steps of
    enforcement, and the keeper of the matcher snapshot."""
    keeper = SnapshotKeeper(database, [sys.executable, "-m", "tutela", "bank", "snapshot"])
    return [
        *feed_tasks(settings, database),
        *enforcement_tasks(settings, database),
        # Each machine keeps the snapshot in its own data directory.
        PeriodicTask("matcher-snapshot", SNAPSHOT_EVERY_S, keeper, lock=this_machine_lock()),
        alert_task(settings, database),
        PeriodicTask("orders-overdue", ORDERS_EVERY_S, partial(mark_overdue, database)),
        PeriodicTask("orders-ended", ORDERS_EVERY_S, partial(end_orders, database)),
        # Blocking and delisting orders in force: their signed execution reports.
        PeriodicTask(
            "orders-access-reports",
            ORDERS_EVERY_S,
            partial(
                report_access_orders,
                database,
                lambda: load_key_file(default_key_file(settings)),
            ),
        ),
    ]


def provider_sender(settings: Settings, database: Database) -> Sender:
    """The provider's sender (see provider_transports and provider_tasks)."""
    return Sender(
        settings,
        database,
        provider_transports(settings, database),
        provider_tasks(settings, database),
    )
