"""What comes back to the authority: the provider's signed execution report (Annex VI), verified
against the provider's registered key and recorded on the order, once per round (round 0 answers
the order, round n the order after the authority's n-th answer to an impediment; every round is
kept in `issued_order_reports`, the order row holds the newest); and what the authority's people
read of its orders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tutela.audit.log import Subject
from tutela.audit.receipts import record_receipt, sender_actor
from tutela.authority.answer_models import ImpedimentAnswer, IssuedOrderReport
from tutela.authority.impediments import impediments_of
from tutela.authority.issued_orders import order_to
from tutela.authority.models import IssuedOrder, OrderedProvider
from tutela.authority.providers import provider_of
from tutela.db.database import Database
from tutela.errors import Conflict, NotFound
from tutela.messaging.canonical import parse_json
from tutela.messaging.messages import Message
from tutela.messaging.outbox_models import OutboxMessage
from tutela.messaging.signed_intake import Earlier, Received, SignedIntake
from tutela.messaging.signing import SigningWindow
from tutela.orders.answer_documents import AnswerKind
from tutela.orders.documents import REPORT_KIND, read_execution_report, report_round
from tutela.orders.states import IssuedState, ItemState
from tutela.orders.transport import ORDERS


def receive_execution_report(
    database: Database,
    key_id: str,
    body: bytes,
    signature: str,
    now: datetime,
    window: SigningWindow,
) -> tuple[dict[str, Any], bool]:
    """Verify and record one execution report; the answer, and whether it was new. A repeat of
    the report already recorded is answered as the first time, however late it comes."""
    return INTAKE.receive(database, key_id, body, signature, now, window)


@dataclass(frozen=True, slots=True)
class _Reported:
    provider: OrderedProvider
    order: IssuedOrder
    round: int
    outcomes: list[dict[str, Any]]


def _find(
    session: Session, provider: OrderedProvider, message: Message
) -> tuple[_Reported, Earlier | None]:
    order_id, outcomes = read_execution_report(message.payload)
    round_ = report_round(message.payload)
    order = order_to(session, provider, order_id, lock=True)
    reported = _Reported(provider, order, round_, outcomes)
    earlier = session.scalar(
        select(IssuedOrderReport).where(
            IssuedOrderReport.order_id == order.id, IssuedOrderReport.round == round_
        )
    )
    if earlier is not None or (round_ == 0 and order.report_signature is not None):
        signatures = (getattr(earlier, "signature", None), order.report_signature)
        return reported, Earlier(signatures, lambda: _answer(order))
    answers = session.scalar(
        select(func.count())
        .select_from(ImpedimentAnswer)
        .where(
            ImpedimentAnswer.order_id == order.id,
            ImpedimentAnswer.kind == AnswerKind.CLARIFICATION,
        )
    )
    if round_ != (answers or 0) or order.state == IssuedState.WITHDRAWN:
        raise Conflict(
            f"no execution report of round {round_} is awaited: the order is {order.state}"
        )
    return reported, None


def _take(session: Session, reported: _Reported, received: Received) -> dict[str, Any]:
    order, outcomes, now = reported.order, reported.outcomes, received.now
    impeded = any(entry["outcome"] == ItemState.IMPEDED for entry in outcomes)
    order.state = IssuedState.IMPEDED if impeded else IssuedState.EXECUTED
    order.report_body = received.text
    order.report_signature = received.signature
    order.report_received_at = now
    order.outcomes = outcomes
    report = IssuedOrderReport(
        order_id=order.id,
        round=reported.round,
        body=order.report_body,
        signature=received.signature,
        received_at=now,
    )
    record_receipt(
        session,
        report,
        received,
        sender=sender_actor("provider", reported.provider.name),
        action="order_report_received",
        subject=Subject("order", str(order.id)),
        detail={
            "order_id": order.order_ref,
            "state": order.state,
            "items": len(outcomes),
            "round": reported.round,
        },
    )
    return _answer(order)


INTAKE = SignedIntake(
    takes=f"{REPORT_KIND} documents",
    kinds=frozenset({REPORT_KIND}),
    conflict="the order's execution report of that round is already recorded",
    sender=provider_of,
    find=_find,
    take=_take,
)


@dataclass(frozen=True, slots=True)
class OrderView:
    id: int
    order_id: str
    kind: str
    provider: str
    state: str
    # The outbox's word on the delivery to the provider: queued, acknowledged (received), failed.
    delivery: str
    issued_by: str
    issued_at: datetime
    items: list[dict[str, Any]]
    report_received_at: datetime | None
    report_signature: str | None
    # The impediments the provider filed, as they were filed (before the report names them).
    impediments: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "order_id": self.order_id,
            "kind": self.kind,
            "provider": self.provider,
            "state": self.state,
            "delivery": self.delivery,
            "issued_by": self.issued_by,
            "issued_at": self.issued_at.isoformat(),
            "items": self.items,
            "report_received_at": (
                self.report_received_at.isoformat() if self.report_received_at else None
            ),
            "report_signature": self.report_signature,
            "impediments": list(self.impediments),
        }


def list_orders(database: Database, limit: int = 100) -> list[OrderView]:
    """The authority's orders, newest first."""
    with database.reader() as session:
        rows = session.scalars(select(IssuedOrder).order_by(IssuedOrder.id.desc()).limit(limit))
        return [_view(session, row) for row in rows]


def show_order(database: Database, order: str) -> OrderView:
    """One order by its number or its id (UUID)."""
    with database.reader() as session:
        query = select(IssuedOrder)
        query = query.where(
            IssuedOrder.id == int(order) if order.isdigit() else IssuedOrder.order_ref == order
        )
        row = session.scalar(query)
        if row is None:
            raise NotFound(f"no order {order}")
        return _view(session, row)


def _view(session: Session, row: IssuedOrder) -> OrderView:
    provider = session.get_one(OrderedProvider, row.provider_id)
    delivery = session.scalar(
        select(OutboxMessage.status).where(
            OutboxMessage.destination == ORDERS, OutboxMessage.idempotency_key == row.order_ref
        )
    )
    document = parse_json(row.body.encode("utf-8"))["payload"]
    if row.outcomes is not None:
        items = list(row.outcomes)
    else:
        items = [{**item, "outcome": None} for item in document["items"]]
    return OrderView(
        row.id,
        row.order_ref,
        row.kind,
        provider.name,
        row.state,
        delivery or "unknown",
        row.issued_by,
        row.issued_at,
        items,
        row.report_received_at,
        row.report_signature,
        tuple(filed.as_dict() for filed in impediments_of(session, row.id)),
    )


def _answer(order: IssuedOrder) -> dict[str, Any]:
    return {"id": order.id, "order_id": order.order_ref, "state": order.state}
