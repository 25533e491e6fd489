"""What the provider's people see of the removal orders it received (the console's order queue):
each order with its clock (from receipt, or from the authority's clarification of an impediment)
and escalation level, each item's state, the answers the authority gave to impediments, and the
signed execution reports as queued for the authority with their delivery."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from tutela.db.database import Database
from tutela.errors import NotFound
from tutela.messaging.outbox_models import OutboxMessage
from tutela.orders.answer_models import ReceivedOrderAnswer
from tutela.orders.escalation import RUNNING, Level, clock_of
from tutela.orders.execution import REPORT_PREFIX
from tutela.orders.models import AuthorityKey, ReceivedOrder, ReceivedOrderItem
from tutela.orders.states import ItemState, OrderKind
from tutela.orders.transport import ORDERS


@dataclass(frozen=True, slots=True)
class QueuedItem:
    id: int
    ref: str
    item_ref: str
    platform: str
    state: str
    executed_at: datetime | None
    impediment: str | None
    explanation: str | None


@dataclass(frozen=True, slots=True)
class QueuedReport:
    """One execution report as signed and queued, and how its delivery stands."""

    key: str
    status: str
    delivered_at: datetime | None
    pretty: str
    signature: str


@dataclass(frozen=True, slots=True)
class QueuedAnswer:
    kind: str
    clarification: str | None
    received_at: datetime


@dataclass(frozen=True, slots=True)
class QueuedOrder:
    id: int
    order_ref: str
    authority: str
    state: str
    received_at: datetime
    started_at: datetime
    deadline_at: datetime
    now: datetime
    # Whether the clock runs: an item still awaits removal.
    running: bool
    remaining_s: int
    share: float
    level: Level
    items: list[QueuedItem]

    def millis(self, name: str) -> int:
        """`started_at`, `deadline_at` or `now` in milliseconds since 1970 (for the script)."""
        at: datetime = getattr(self, name)
        return int(at.timestamp() * 1000)

    @property
    def remaining_text(self) -> str:
        """The time left as people read it; how late, once overdue."""
        seconds = abs(self.remaining_s)
        hours, rest = divmod(seconds, 3600)
        text = f"{hours} h {rest // 60:02d} min {rest % 60:02d} s"
        return text if self.remaining_s > 0 else f"overdue by {text}"


def order_queue(database: Database, now: datetime, limit: int = 200) -> list[QueuedOrder]:
    """Removal orders: those on the clock first (soonest deadline first), then the rest, newest
    first."""
    running = case((ReceivedOrder.state.in_([s.value for s in RUNNING]), 0), else_=1)
    with database.reader() as session:
        rows = session.scalars(
            select(ReceivedOrder)
            .where(ReceivedOrder.kind == OrderKind.REMOVAL)
            .order_by(running, ReceivedOrder.deadline_at, ReceivedOrder.id.desc())
            .limit(limit)
        )
        return [_queued(session, row, now) for row in rows]


def queued_order(
    database: Database, order_id: int, now: datetime
) -> tuple[QueuedOrder, list[QueuedAnswer], list[QueuedReport]]:
    """One removal order, the authority's answers to its impediments, and its reports."""
    with database.reader() as session:
        row = session.get(ReceivedOrder, order_id)
        if row is None or row.kind != OrderKind.REMOVAL:
            raise NotFound(f"no removal order {order_id}")
        answers = [
            QueuedAnswer(answer.kind, answer.clarification, answer.received_at)
            for answer in session.scalars(
                select(ReceivedOrderAnswer)
                .where(ReceivedOrderAnswer.order_id == row.id)
                .order_by(ReceivedOrderAnswer.id)
            )
        ]
        return _queued(session, row, now), answers, _reports(session, row)


def _queued(session: Session, row: ReceivedOrder, now: datetime) -> QueuedOrder:
    items = [
        QueuedItem(
            item.item_id,
            item.ref,
            item.item_ref,
            item.platform,
            item.state,
            item.executed_at,
            item.impediment,
            item.explanation,
        )
        for item in session.scalars(
            select(ReceivedOrderItem)
            .where(ReceivedOrderItem.order_id == row.id)
            .order_by(ReceivedOrderItem.id)
        )
    ]
    authority = session.get_one(AuthorityKey, row.authority_id)
    clock = clock_of(row, now)
    running = row.state in RUNNING and any(item.state == ItemState.REQUESTED for item in items)
    return QueuedOrder(
        row.id,
        row.order_ref,
        authority.name,
        row.state,
        row.received_at,
        clock.started_at,
        row.deadline_at,
        now,
        running,
        int(clock.remaining.total_seconds()),
        clock.elapsed_share,
        clock.level if running else Level.NONE,
        items,
    )


def _reports(session: Session, row: ReceivedOrder) -> list[QueuedReport]:
    keys = [REPORT_PREFIX + row.order_ref] + [
        f"{REPORT_PREFIX}{row.order_ref}:{n}" for n in range(1, row.answers + 1)
    ]
    messages = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.destination == ORDERS, OutboxMessage.idempotency_key.in_(keys))
        .order_by(OutboxMessage.id)
    )
    reports = []
    for message in messages:
        body = str(message.payload.get("body", ""))
        pretty = json.dumps(json.loads(body), indent=2, ensure_ascii=False) if body else ""
        reports.append(
            QueuedReport(
                message.idempotency_key,
                message.status,
                message.delivered_at,
                pretty,
                str(message.payload.get("signature", "")),
            )
        )
    return reports
