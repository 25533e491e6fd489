"""What the authority's people see of its orders (the console's supervision): each order's state
as the authority can know it — sent (queued for the provider), received (the provider took it:
the outbox's acknowledgement), executed or impediment (the signed execution report says so),
overdue (received, no report, the removal deadline passed: Art 14(1)), clarified or withdrawn (the
authority answered an impediment: a clarified order runs on a new clock from the answer's
receipt, Art 14(5)-(6)), in force or ended (a blocking or delisting order, until its end) —
with the time it took or the time left, the next yearly review of blocking and delisting orders
(Art 16-18), and the signed execution report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tutela.authority.answer_models import ImpedimentAnswer
from tutela.authority.models import IssuedOrder, OrderedProvider
from tutela.db.database import Database
from tutela.errors import NotFound
from tutela.messaging.canonical import parse_json
from tutela.messaging.outbox_models import MessageStatus, OutboxMessage
from tutela.orders.access_documents import next_review
from tutela.orders.answer_documents import answer_key
from tutela.orders.states import IssuedState, OrderKind
from tutela.orders.transport import ORDERS

# A review is flagged due this long before the anniversary of the order's issue.
REVIEW_NOTICE = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class SupervisedOrder:
    id: int
    order_id: str
    kind: str
    provider: str
    status: str
    issued_by: str
    issued_at: datetime
    received_at: datetime | None
    # Executed orders: from receipt to the report's completion; running ones: time left.
    took: timedelta | None
    left: timedelta | None
    ends_at: datetime | None
    review_at: datetime | None
    review_due: bool
    items: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class SignedReport:
    """The provider's execution report, exactly as received and verified (Annex VI)."""

    body: str
    pretty: str
    signature: str
    key_id: str
    received_at: datetime


def supervised_orders(
    database: Database, now: datetime, deadline: timedelta, limit: int = 200
) -> list[SupervisedOrder]:
    """The authority's orders, newest first."""
    with database.reader() as session:
        rows = session.scalars(select(IssuedOrder).order_by(IssuedOrder.id.desc()).limit(limit))
        return [_supervised(session, row, now, deadline) for row in rows]


def provider_orders(
    session: Session, provider_id: int, now: datetime, deadline: timedelta
) -> list[SupervisedOrder]:
    """One provider's orders, oldest first (a compliance record reads them in order)."""
    rows = session.scalars(
        select(IssuedOrder).where(IssuedOrder.provider_id == provider_id).order_by(IssuedOrder.id)
    )
    return [_supervised(session, row, now, deadline) for row in rows]


def supervised_order(
    database: Database, order_id: int, now: datetime, deadline: timedelta
) -> tuple[SupervisedOrder, SignedReport | None]:
    """One order, and its signed execution report once it came."""
    with database.reader() as session:
        row = session.get(IssuedOrder, order_id)
        if row is None:
            raise NotFound(f"no order {order_id}")
        return _supervised(session, row, now, deadline), _report(session, row)


def _supervised(
    session: Session, row: IssuedOrder, now: datetime, deadline: timedelta
) -> SupervisedOrder:
    provider = session.get_one(OrderedProvider, row.provider_id)
    received_at = session.scalar(
        select(OutboxMessage.delivered_at).where(
            OutboxMessage.destination == ORDERS,
            OutboxMessage.idempotency_key == row.order_ref,
            OutboxMessage.status == MessageStatus.ACKNOWLEDGED,
        )
    )
    document = parse_json(row.body.encode("utf-8"))["payload"]
    ends_at = datetime.fromisoformat(document["ends_at"]) if "ends_at" in document else None
    status, took, left = _status(session, row, received_at, ends_at, now, deadline)
    review_at = next_review(row.issued_at, now) if ends_at is not None and ends_at > now else None
    items = list(row.outcomes) if row.outcomes is not None else list(document["items"])
    return SupervisedOrder(
        row.id,
        row.order_ref,
        row.kind,
        provider.name,
        status,
        row.issued_by,
        row.issued_at,
        received_at,
        took,
        left,
        ends_at,
        review_at,
        review_at is not None and review_at - now <= REVIEW_NOTICE,
        items,
    )


def _status(
    session: Session,
    row: IssuedOrder,
    received_at: datetime | None,
    ends_at: datetime | None,
    now: datetime,
    deadline: timedelta,
) -> tuple[str, timedelta | None, timedelta | None]:
    if row.kind != OrderKind.REMOVAL:
        if ends_at is not None and ends_at <= now:
            return "ended", None, None
        return ("in_force" if received_at else IssuedState.SENT), None, None
    if row.state == IssuedState.CLARIFIED:
        # The clock runs again from the clarification's receipt (Art 14(5)-(6)).
        received_at = clarification_received(session, row)
        if received_at is None:
            return IssuedState.CLARIFIED, None, None
    elif row.report_body is not None:
        report = parse_json(row.report_body.encode("utf-8"))["payload"]
        started = report.get("clock_started_at") or report["received_at"]
        took = datetime.fromisoformat(report["completed_at"]) - datetime.fromisoformat(started)
        return row.state, took, None
    if received_at is None:
        return IssuedState.SENT, None, None
    left = received_at + deadline - now
    return ("overdue" if left <= timedelta(0) else "received"), None, left


def clarification_received(session: Session, row: IssuedOrder) -> datetime | None:
    """When the provider took the authority's newest answer (its outbox acknowledgement)."""
    number = session.scalar(
        select(func.max(ImpedimentAnswer.number)).where(ImpedimentAnswer.order_id == row.id)
    )
    if number is None:
        return None
    return session.scalar(
        select(OutboxMessage.delivered_at).where(
            OutboxMessage.destination == ORDERS,
            OutboxMessage.idempotency_key == answer_key(row.order_ref, int(number)),
            OutboxMessage.status == MessageStatus.ACKNOWLEDGED,
        )
    )


def _report(session: Session, row: IssuedOrder) -> SignedReport | None:
    if row.report_body is None or row.report_signature is None:
        return None
    provider = session.get_one(OrderedProvider, row.provider_id)
    pretty = json.dumps(json.loads(row.report_body), indent=2, ensure_ascii=False)
    assert row.report_received_at is not None
    return SignedReport(
        row.report_body, pretty, row.report_signature, provider.key_id, row.report_received_at
    )
