"""The timed step of orders (`tutela serve` and `tutela outbox run` run it every minute): an
order with an item still awaiting removal past its deadline (Art 14(1)) becomes `overdue`, with
an audit entry; `/metrics` counts orders by state. Items answered with an impediment are off the
clock (Art 14(5)-(6)), so they never make an order overdue."""

from __future__ import annotations

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from tutela.audit.log import SYSTEM, Subject, record
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.orders.models import ReceivedOrder, ReceivedOrderItem
from tutela.orders.states import ItemState, ReceivedState

# A deadline is a day long: a minute late at most is close enough for its alarm.
EVERY_S = 60.0


def mark_overdue(database: Database, clock: Clock | None = None) -> list[int]:
    """Mark every order past its deadline with an item still requested; their ids."""
    now = (clock or SystemClock()).now()
    waiting = exists().where(
        ReceivedOrderItem.order_id == ReceivedOrder.id,
        ReceivedOrderItem.state == ItemState.REQUESTED,
    )
    due = select(ReceivedOrder.id).where(
        ReceivedOrder.state == ReceivedState.RECEIVED, ReceivedOrder.deadline_at <= now, waiting
    )
    with database.reader() as session:
        if session.scalar(due.limit(1)) is None:
            return []  # the common case takes no write lock
    with database.unit_of_work() as session:
        rows = list(session.scalars(select(ReceivedOrder).where(ReceivedOrder.id.in_(due))))
        for row in rows:
            row.state, row.overdue_at = ReceivedState.OVERDUE, now
            record(
                session,
                SYSTEM,
                "order_overdue",
                Subject("order", str(row.id)),
                {"order_id": row.order_ref, "deadline_at": row.deadline_at.isoformat()},
                now=now,
            )
        return [row.id for row in rows]


def order_counts(session: Session) -> dict[str, int]:
    """Received orders by state, for /metrics."""
    rows = session.execute(
        select(ReceivedOrder.state, func.count()).group_by(ReceivedOrder.state)
    ).all()
    return {str(state): int(count) for state, count in rows}
