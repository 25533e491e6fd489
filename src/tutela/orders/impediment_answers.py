"""Taking the authority's answer to an impediment at the provider (`POST /v1/orders/answers`):
verified against the registered authority's key like an order, for an order of that authority
whose execution report named an impediment, in the order of the authority's answers. A
clarification puts the impeded items back on the clock, which starts again from the answer's
receipt (Art 14(5)-(6)): the deadline moves, each item goes to its platform again as an
`order.removal_requested` webhook carrying the clarification, and once every item is settled the
next round's execution report goes back signed (tutela.orders.execution). A withdrawal closes the
order. Each answer is kept as received; a repeated delivery is answered as the first was."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.audit.log import Subject
from tutela.audit.receipts import record_receipt, sender_actor
from tutela.db.database import Database
from tutela.detection.webhooks import enqueue_platform_events
from tutela.errors import Conflict, NotFound
from tutela.messaging.canonical import parse_json
from tutela.messaging.messages import Message
from tutela.messaging.signed_intake import (
    Earlier,
    Received,
    SignedIntake,
    check_document_key,
    stored_under,
)
from tutela.messaging.signing import SigningWindow
from tutela.orders.answer_documents import (
    ANSWER_KIND,
    AnswerKind,
    ImpedimentAnswerDocument,
    read_impediment_answer,
)
from tutela.orders.answer_models import ReceivedOrderAnswer
from tutela.orders.authority_keys import authority_of
from tutela.orders.documents import read_removal_order
from tutela.orders.models import AuthorityKey, ReceivedOrder, ReceivedOrderItem
from tutela.orders.states import ItemState, ReceivedState

EVENT = "order.removal_requested"


@dataclass(frozen=True, slots=True)
class AnswerRules:
    window: SigningWindow
    # Art 14(1): the time to remove, from the clarification's receipt.
    deadline: timedelta


def receive_impediment_answer(
    database: Database, key_id: str, body: bytes, signature: str, now: datetime, rules: AnswerRules
) -> tuple[dict[str, Any], bool]:
    """Verify and take one answer; the receipt, and whether the answer is new."""
    intake: SignedIntake[AuthorityKey, _Answering] = SignedIntake(
        takes=f"{ANSWER_KIND} documents",
        kinds=frozenset({ANSWER_KIND}),
        conflict="another answer was received under this answer's id",
        sender=authority_of,
        find=partial(_find, deadline=rules.deadline),
        take=partial(_take, deadline=rules.deadline),
    )
    return intake.receive(database, key_id, body, signature, now, rules.window)


@dataclass(frozen=True, slots=True)
class _Answering:
    authority: AuthorityKey
    order: ReceivedOrder
    answer: ImpedimentAnswerDocument


def _find(
    session: Session, authority: AuthorityKey, message: Message, *, deadline: timedelta
) -> tuple[_Answering, Earlier | None]:
    answer = read_impediment_answer(message.payload)
    check_document_key(answer.key, message, "answer")
    order = session.scalar(
        select(ReceivedOrder)
        .where(
            ReceivedOrder.authority_id == authority.id,
            ReceivedOrder.order_ref == answer.order_id,
        )
        .with_for_update()
    )
    if order is None:
        raise NotFound("this provider holds no order of that authority with that id")
    earlier = stored_under(
        session,
        ReceivedOrderAnswer,
        ReceivedOrderAnswer.order_id == order.id,
        ReceivedOrderAnswer.answer_ref == answer.key,
        answer=partial(_receipt, order, deadline=deadline),
    )
    return _Answering(authority, order, answer), earlier


def _take(
    session: Session, found: _Answering, received: Received, *, deadline: timedelta
) -> dict[str, Any]:
    order, answer, now = found.order, found.answer, received.now
    if order.state != ReceivedState.IMPEDED:
        raise Conflict(f"the order awaits no answer to an impediment: it is {order.state}")
    if answer.number != order.answers + 1:
        raise Conflict(
            f"the order has taken {order.answers} answer(s); this is answer {answer.number}"
        )
    row = ReceivedOrderAnswer(
        order_id=order.id,
        answer_ref=answer.key,
        kind=answer.kind.value,
        clarification=answer.clarification,
        body=received.text,
        signature=received.signature,
        received_at=now,
    )
    session.add(row)
    order.answers = answer.number
    if answer.kind == AnswerKind.WITHDRAWN:
        order.state, order.completed_at = ReceivedState.WITHDRAWN, now
        action = "order_withdrawn"
    else:
        _clock_again(session, order, answer, now, deadline)
        action = "order_clarified"
    record_receipt(
        session,
        row,
        received,
        sender=sender_actor("authority", found.authority.name),
        action=action,
        subject=Subject("order", str(order.id)),
        detail={
            "order_id": order.order_ref,
            "answer": answer.number,
            "deadline_at": order.deadline_at.isoformat(),
        },
    )
    return _receipt(order, row, deadline=deadline)


def _clock_again(
    session: Session,
    order: ReceivedOrder,
    answer: ImpedimentAnswerDocument,
    now: datetime,
    deadline: timedelta,
) -> None:
    """The impeded items back on the clock, from now, and at their platforms again."""
    items = list(
        session.scalars(
            select(ReceivedOrderItem)
            .where(
                ReceivedOrderItem.order_id == order.id,
                ReceivedOrderItem.state == ItemState.IMPEDED,
            )
            .order_by(ReceivedOrderItem.id)
        )
    )
    if answer.items:
        items = [item for item in items if item.ref in answer.items]
    if not items:
        raise Conflict("the answer names no item this provider holds as impeded")
    for item in items:
        item.state, item.impediment, item.explanation = ItemState.REQUESTED, None, None
    order.state = ReceivedState.RECEIVED
    order.clock_started_at, order.deadline_at = now, now + deadline
    order.overdue_at, order.completed_at = None, None
    document = read_removal_order(parse_json(order.body.encode("utf-8"))["payload"])
    messages = []
    for item in items:
        base = f"/v1/orders/{order.id}/items/{item.item_id}"
        messages.append(
            (
                item.item_id,
                {
                    "event": EVENT,
                    "order_id": order.id,
                    "order_ref": order.order_ref,
                    "order_item": item.ref,
                    "id": item.item_id,
                    "item_id": item.item_ref,
                    "authority": document.authority_name,
                    "reasons": document.reasons,
                    "legal_basis": document.legal_basis,
                    # The authority's answer to the impediment the platform filed.
                    "clarification": answer.clarification,
                    "received_at": order.received_at.isoformat(),
                    "clock_started_at": now.isoformat(),
                    "deadline_at": order.deadline_at.isoformat(),
                    "non_disclosure_until": (
                        order.non_disclosure_until.isoformat()
                        if order.non_disclosure_until
                        else None
                    ),
                    "confirm": base + "/executed",
                    "impediment": base + "/impediment",
                },
            )
        )
    enqueue_platform_events(
        session, messages, platforms={item.item_id: item.platform for item in items}
    )


def _receipt(
    order: ReceivedOrder, answer: ReceivedOrderAnswer, *, deadline: timedelta
) -> dict[str, Any]:
    """The same for every delivery of the answer: a clarification's deadline runs from it."""
    clarified = answer.kind == AnswerKind.CLARIFICATION
    return {
        "id": answer.id,
        "order_id": order.order_ref,
        "answer": answer.kind,
        "received_at": answer.received_at.isoformat(),
        "deadline_at": (answer.received_at + deadline).isoformat() if clarified else None,
    }
