"""Execution reports for blocking and delisting orders (Art 16-18): once an order is in force,
the provider builds its exports as the resolvers and search systems read them — the RPZ zone
and the URL list (tutela.orders.access_exports) — checks that every entry the order names is in
them (a blocking order's host in the zone, or, for a URL whose host is an IP address that DNS
cannot block, in the URL list; a delisting order's URL in the URL list), and sends the authority a
signed execution report saying so, entry by entry, through the outbox (at least once; its
idempotency key is the same as a removal order's report). An order whose entries are not all in
the exports is not reported, and logged. The timed step of the provider's sender runs this every
minute, and `POST /v1/orders` runs it at once for the order it took."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.audit.log import SYSTEM, Subject, record
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.messaging.canonical import parse_json
from tutela.messaging.messages import sign_message
from tutela.messaging.outbox import enqueue
from tutela.messaging.outbox_models import OutboxMessage
from tutela.messaging.signing import SigningKey
from tutela.orders.access_exports import rpz_zone, urls_in_force
from tutela.orders.access_models import ReceivedOrderUrl
from tutela.orders.documents import IN_FORCE_OUTCOME, REPORT_KIND, ItemOutcome, execution_report
from tutela.orders.execution import REPORT_PREFIX, report_key
from tutela.orders.models import ReceivedOrder
from tutela.orders.states import OrderKind, ReceivedState
from tutela.orders.transport import ORDERS, REPORTS_PATH, signed_payload
from tutela.orders.url_hosts import host_of

log = logging.getLogger("tutela.orders")
ACCESS = (OrderKind.BLOCKING, OrderKind.DELISTING)
# The exports an entry is confirmed in.
RPZ, URL_LIST = "rpz", "urls"


def report_access_orders(
    database: Database, key: SigningKey | Callable[[], SigningKey], clock: Clock | None = None
) -> list[int]:
    """Report every blocking or delisting order in force whose report is not queued yet, if its
    entries are in the exports; the ids of the orders reported. `key` may be a function that
    loads it: it is called only when there is something to sign."""
    now = (clock or SystemClock()).now()
    pending = _unreported(database, now)
    if not pending:
        return []  # the common case reads the key file not at all
    signing = key if isinstance(key, SigningKey) else key()
    exports = {kind: _exported(database, kind, now) for kind in ACCESS}
    reported = []
    for order_id in pending:
        with database.unit_of_work() as session:
            order = session.scalar(
                select(ReceivedOrder).where(ReceivedOrder.id == order_id).with_for_update()
            )
            if order is None or order.state != ReceivedState.IN_FORCE:
                continue
            if _queued(session, report_key(order)):
                continue
            outcomes = _confirmed(session, order, exports[OrderKind(order.kind)], now)
            if outcomes is None:
                continue
            _queue_report(session, order, outcomes, signing, now)
            reported.append(order.id)
    return reported


def _unreported(database: Database, now: datetime) -> list[int]:
    with database.reader() as session:
        rows = session.execute(
            select(ReceivedOrder.id, ReceivedOrder.order_ref).where(
                ReceivedOrder.kind.in_([kind.value for kind in ACCESS]),
                ReceivedOrder.state == ReceivedState.IN_FORCE,
                ReceivedOrder.ends_at > now,
            )
        ).all()
        keys = {REPORT_PREFIX + ref for _, ref in rows}
        queued = set(
            session.scalars(
                select(OutboxMessage.idempotency_key).where(
                    OutboxMessage.destination == ORDERS, OutboxMessage.idempotency_key.in_(keys)
                )
            )
        )
        return [int(ident) for ident, ref in rows if REPORT_PREFIX + ref not in queued]


def _exported(database: Database, kind: OrderKind, now: datetime) -> dict[str, set[str]]:
    """What each export holds now: the zone's hosts and the URL list."""
    urls = urls_in_force(database, kind, now)
    held = {URL_LIST: set(urls)}
    if kind == OrderKind.BLOCKING:
        held[RPZ] = set(rpz_zone(urls, now).hosts)
    return held


def _queued(session: Session, key: str) -> bool:
    return (
        session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.destination == ORDERS, OutboxMessage.idempotency_key == key
            )
        )
        is not None
    )


def _confirmed(
    session: Session, order: ReceivedOrder, exports: dict[str, set[str]], now: datetime
) -> list[ItemOutcome] | None:
    """Each entry with the exports it is in; None if one is in none it belongs in."""
    urls = session.scalars(
        select(ReceivedOrderUrl)
        .where(ReceivedOrderUrl.order_id == order.id)
        .order_by(ReceivedOrderUrl.id)
    )
    outcomes = []
    for entry in urls:
        named = host_of(entry.url)
        found = [URL_LIST] if entry.url in exports[URL_LIST] else []
        if RPZ in exports and not named.is_address:
            if named.host not in exports[RPZ]:
                found = []  # a blockable host must be in the zone
            else:
                found.insert(0, RPZ)
        if not found:
            log.error(
                "order %s: entry %s is not in the exports; no execution report",
                order.id,
                entry.centre_id,
            )
            return None
        outcomes.append(
            ItemOutcome(
                str(entry.centre_id),
                entry.url,
                IN_FORCE_OUTCOME,
                order.received_at,
                explanation="in the exports: " + ", ".join(found),
            )
        )
    return outcomes


def _queue_report(
    session: Session,
    order: ReceivedOrder,
    outcomes: list[ItemOutcome],
    key: SigningKey,
    now: datetime,
) -> None:
    document = parse_json(order.body.encode("utf-8"))["payload"]
    report = execution_report(
        order.order_ref, document["provider"]["name"], order.received_at, now, outcomes
    )
    signed = sign_message(key, REPORT_KIND, report_key(order), report, now)
    url = str(document["authority"]["url"]).rstrip("/") + REPORTS_PATH
    enqueue(session, ORDERS, REPORT_KIND, signed_payload(url, signed), report_key(order), now)
    record(
        session,
        SYSTEM,
        "order_report_queued",
        Subject("order", str(order.id)),
        {"order_id": order.order_ref, "state": order.state, "entries": len(outcomes)},
        now=now,
    )
