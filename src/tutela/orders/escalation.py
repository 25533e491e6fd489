"""How far a received removal order's clock has run (Art 14(1)): from its start (receipt, or the
authority's clarification of an impediment, Art 14(5)-(6)) to its deadline. An order with an
item still awaiting removal escalates at 50 % of its time, again at 90 %, and is overdue past its
deadline; the console's order queue marks each level, the operator's alerts raise one alert per
order that grows with its level (tutela.operations.alerts), and `/metrics` counts the open
orders at each level (`tutela_order_escalations{level}`). Orders whose every item is settled, or
answered with an impediment, are off the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from tutela.orders.models import ReceivedOrder, ReceivedOrderItem
from tutela.orders.states import ItemState, OrderKind, ReceivedState

# Received orders whose clock may run (overdue ones run on past their deadline).
RUNNING = (ReceivedState.RECEIVED, ReceivedState.OVERDUE)


class Level(IntEnum):
    """The share of an order's time that has run, as a mark."""

    NONE = 0
    HALF = 50
    NEAR = 90
    OVERDUE = 100

    @property
    def label(self) -> str:
        return "overdue" if self is Level.OVERDUE else f"{self.value} %"


@dataclass(frozen=True, slots=True)
class OrderClock:
    """An order's clock at one moment."""

    started_at: datetime
    deadline_at: datetime
    now: datetime

    @property
    def total(self) -> timedelta:
        return self.deadline_at - self.started_at

    @property
    def remaining(self) -> timedelta:
        return self.deadline_at - self.now

    @property
    def elapsed_share(self) -> float:
        """How much of the time has run, 0 to 1 and more once overdue."""
        total = self.total.total_seconds()
        if total <= 0:
            return 1.0
        return max(0.0, (self.now - self.started_at).total_seconds() / total)

    @property
    def level(self) -> Level:
        if self.now >= self.deadline_at:
            return Level.OVERDUE
        share = self.elapsed_share
        if share >= 0.9:
            return Level.NEAR
        if share >= 0.5:
            return Level.HALF
        return Level.NONE


def clock_of(order: ReceivedOrder, now: datetime) -> OrderClock:
    return OrderClock(order.clock_started_at or order.received_at, order.deadline_at, now)


def waiting_orders(session: Session) -> list[ReceivedOrder]:
    """Removal orders on the clock: running, with an item still awaiting removal."""
    waiting = exists().where(
        ReceivedOrderItem.order_id == ReceivedOrder.id,
        ReceivedOrderItem.state == ItemState.REQUESTED,
    )
    return list(
        session.scalars(
            select(ReceivedOrder)
            .where(
                ReceivedOrder.kind == OrderKind.REMOVAL,
                ReceivedOrder.state.in_([state.value for state in RUNNING]),
                waiting,
            )
            .order_by(ReceivedOrder.deadline_at)
        )
    )


def escalated(session: Session, now: datetime) -> list[tuple[ReceivedOrder, Level]]:
    """The orders on the clock at 50 % of their time or beyond, soonest deadline first."""
    found: list[tuple[ReceivedOrder, Level]] = []
    for order in waiting_orders(session):
        level = clock_of(order, now).level
        if level is not Level.NONE:
            found.append((order, level))
    return found


def escalation_counts(session: Session, now: datetime) -> dict[Level, int]:
    """Orders on the clock at each escalation level now (every level present, zero included)."""
    counts: dict[Level, int] = {level: 0 for level in Level if level is not Level.NONE}
    for _, level in escalated(session, now):
        counts[level] += 1
    return counts
