"""Executing a received removal order, item by item: the platform confirms each removal
(`POST /v1/orders/{id}/items/{item}/executed`) or answers that it cannot remove it, with one of
the Annex V reasons (`…/impediment`), which takes the item off the 24-hour clock (Art 14(5)-(6)).
Once every item is settled, the execution report (Annex VI: removed or disabled, date and time,
per item; the impediments) is signed with the provider's key and queued for the authority in the
same transaction. A platform reaches only its own items (the provider's compliance officers, in
the console's order queue, reach every item); a repeated answer changes nothing. After the
authority's n-th answer to an impediment (tutela.orders.impediment_answers) the next report is
round n, under its own idempotency key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.audit.log import Subject, record
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.errors import Conflict, InvalidInput, NotFound
from tutela.messaging.canonical import parse_json
from tutela.messaging.messages import sign_message
from tutela.messaging.outbox import enqueue
from tutela.messaging.signing import SigningKey
from tutela.orders.documents import REPORT_KIND, ItemOutcome, execution_report, impediment_of
from tutela.orders.impediment_notices import IMPEDIMENT_KIND, IMPEDIMENTS_PATH, ImpedimentNotice
from tutela.orders.models import ReceivedOrder, ReceivedOrderItem
from tutela.orders.states import SETTLED, Impediment, ItemState, ReceivedState
from tutela.orders.transport import ORDERS, REPORTS_PATH, signed_payload

EXPLANATION_MAX = 5000
REPORT_PREFIX = "report:"


@dataclass(frozen=True, slots=True)
class ItemAnswer:
    order_id: int
    item_id: int
    state: str
    order_state: str
    executed_at: datetime | None

    def as_dict(self) -> dict[str, object]:
        return {
            "order_id": self.order_id,
            "item_id": self.item_id,
            "state": self.state,
            "order_state": self.order_state,
            "executed_at": self.executed_at.isoformat() if self.executed_at else None,
        }


def confirm_executed(
    database: Database,
    order_id: int,
    item_id: int,
    actor: str,
    key: SigningKey,
    *,
    platform: str | None,
    action: str = ItemState.REMOVED,
    executed_at: datetime | None = None,
    clock: Clock | None = None,
) -> ItemAnswer:
    """The platform removed (or disabled) the item; `executed_at` defaults to now. `platform`
    None: any platform's item (a person in the console answers for the provider)."""
    if action not in (ItemState.REMOVED, ItemState.DISABLED):
        raise InvalidInput("an executed item was removed or disabled")
    now = (clock or SystemClock()).now()
    when = executed_at or now
    if when > now:
        raise InvalidInput("an item cannot have been removed in the future")
    with database.unit_of_work() as session:
        order, item = _item_of(session, order_id, item_id, platform)
        if item.state == action:
            return _answer(order, item)
        if item.state != ItemState.REQUESTED:
            raise Conflict(f"the item is already answered: {item.state}")
        item.state, item.executed_at = action, when
        record(
            session,
            actor,
            "order_item_executed",
            Subject("order", str(order.id)),
            {"item_id": item.item_id, "action": action, "at": when.isoformat()},
            now=now,
        )
        _report_if_settled(session, order, key, now)
        return _answer(order, item)


def file_impediment(
    database: Database,
    order_id: int,
    item_id: int,
    actor: str,
    key: SigningKey,
    *,
    platform: str | None,
    reason: str,
    explanation: str,
    clock: Clock | None = None,
) -> ItemAnswer:
    """The item cannot be removed, for one of the reasons of Annex V: it stops its clock.
    `platform` None: any platform's item (the console's impediment form)."""
    cause = impediment_of(reason)
    explanation = explanation.strip()
    if not explanation or len(explanation) > EXPLANATION_MAX:
        raise InvalidInput(f"an impediment is explained in 1 to {EXPLANATION_MAX} characters")
    now = (clock or SystemClock()).now()
    with database.unit_of_work() as session:
        order, item = _item_of(session, order_id, item_id, platform)
        if item.state == ItemState.IMPEDED and item.impediment == cause:
            return _answer(order, item)
        if item.state != ItemState.REQUESTED:
            raise Conflict(f"the item is already answered: {item.state}")
        item.state, item.executed_at = ItemState.IMPEDED, None
        item.impediment, item.explanation = cause, explanation
        record(
            session,
            actor,
            "order_item_impediment",
            Subject("order", str(order.id)),
            {"item_id": item.item_id, "impediment": cause.value},
            now=now,
        )
        _send_impediment(session, order, item, key, now)
        _report_if_settled(session, order, key, now)
        return _answer(order, item)


def _item_of(
    session: Session, order_id: int, item_id: int, platform: str | None
) -> tuple[ReceivedOrder, ReceivedOrderItem]:
    """The order's item, if it is `platform`'s (another platform's is NotFound, as a missing
    one); the order row is locked, so that two last answers cannot both miss the report."""
    order = session.scalar(
        select(ReceivedOrder).where(ReceivedOrder.id == order_id).with_for_update()
    )
    item = session.scalar(
        select(ReceivedOrderItem).where(
            ReceivedOrderItem.order_id == order_id, ReceivedOrderItem.item_id == item_id
        )
    )
    if order is None or item is None or platform not in (None, item.platform):
        raise NotFound(f"no item {item_id} in order {order_id}")
    if order.state == ReceivedState.WITHDRAWN:
        raise Conflict("the authority withdrew this order")
    return order, item


def _send_impediment(
    session: Session, order: ReceivedOrder, item: ReceivedOrderItem, key: SigningKey, now: datetime
) -> None:
    """The impediment, signed, queued for the authority at once (it stops the item's clock;
    the authority need not wait for the execution report to learn of it)."""
    assert item.impediment is not None and item.explanation is not None
    document = parse_json(order.body.encode("utf-8"))["payload"]
    notice = ImpedimentNotice(
        order_id=order.order_ref,
        round=order.answers,
        item_ref=item.ref,
        provider_item_id=item.item_ref,
        reason=Impediment(item.impediment),
        explanation=item.explanation,
        filed_at=now,
        provider_name=str(document["provider"]["name"]),
    )
    signed = sign_message(key, IMPEDIMENT_KIND, notice.key, notice.document(), now)
    url = str(document["authority"]["url"]).rstrip("/") + IMPEDIMENTS_PATH
    enqueue(session, ORDERS, IMPEDIMENT_KIND, signed_payload(url, signed), notice.key, now)


def _report_if_settled(
    session: Session, order: ReceivedOrder, key: SigningKey, now: datetime
) -> None:
    items = list(
        session.scalars(
            select(ReceivedOrderItem)
            .where(ReceivedOrderItem.order_id == order.id)
            .order_by(ReceivedOrderItem.id)
        )
    )
    if any(item.state not in SETTLED for item in items):
        return
    impeded = any(item.state == ItemState.IMPEDED for item in items)
    order.state = ReceivedState.IMPEDED if impeded else ReceivedState.EXECUTED
    order.completed_at = now
    document = parse_json(order.body.encode("utf-8"))["payload"]
    outcomes = [
        ItemOutcome(
            item.ref, item.item_ref, item.state, item.executed_at, item.impediment, item.explanation
        )
        for item in items
    ]
    report = execution_report(
        order.order_ref,
        document["provider"]["name"],
        order.received_at,
        now,
        outcomes,
        order.answers,
        order.clock_started_at,
    )
    signed = sign_message(key, REPORT_KIND, report_key(order), report, now)
    url = str(document["authority"]["url"]).rstrip("/") + REPORTS_PATH
    enqueue(session, ORDERS, REPORT_KIND, signed_payload(url, signed), report_key(order), now)
    record(
        session,
        "system",
        "order_report_queued",
        Subject("order", str(order.id)),
        {"order_id": order.order_ref, "state": order.state},
        now=now,
    )


def report_key(order: ReceivedOrder) -> str:
    """The idempotency key of the order's execution report of its current round."""
    if not order.answers:
        return REPORT_PREFIX + order.order_ref
    return f"{REPORT_PREFIX}{order.order_ref}:{order.answers}"


def _answer(order: ReceivedOrder, item: ReceivedOrderItem) -> ItemAnswer:
    return ItemAnswer(order.id, item.item_id, item.state, order.state, item.executed_at)
