"""The EU Centre's copies of orders (`POST /v1/orders` on the centre node): every order an
authority issues is copied to the Centre, which keeps it, verified against the authority's
registered key (`tutela authority-key add` on the centre's database); and the copies of the
authority's answers to impediments (a clarification, or the order withdrawn), kept by the order's
id. A repeated delivery is answered as the first was and stores nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.audit.receipts import record_receipt, sender_actor
from tutela.centre.order_copy_models import CentreOrderAnswer, CentreOrderCopy
from tutela.db.database import Database
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
    ImpedimentAnswerDocument,
    read_impediment_answer,
)
from tutela.orders.authority_keys import authority_of
from tutela.orders.models import AuthorityKey
from tutela.orders.reading import ORDER_KINDS, ORDERS_TAKEN, read_order


def receive_order_copy(
    database: Database,
    key_id: str,
    body: bytes,
    signature: str,
    now: datetime,
    window: SigningWindow,
) -> tuple[dict[str, Any], bool]:
    """Verify and keep one order's copy; the answer, and whether it was new."""
    return INTAKE.receive(database, key_id, body, signature, now, window)


def _find(
    session: Session, authority: AuthorityKey, message: Message
) -> tuple[AuthorityKey, Earlier | None]:
    earlier = stored_under(
        session,
        CentreOrderCopy,
        CentreOrderCopy.authority_id == authority.id,
        CentreOrderCopy.order_ref == message.idempotency_key,
        answer=_answer,
    )
    return authority, earlier


def _take(session: Session, authority: AuthorityKey, received: Received) -> dict[str, Any]:
    order = read_order(received.message)
    row = CentreOrderCopy(
        authority_id=authority.id,
        order_ref=order.order_id,
        kind=order.kind,
        provider=order.provider_name,
        body=received.text,
        signature=received.signature,
        received_at=received.now,
    )
    record_receipt(
        session,
        row,
        received,
        sender=sender_actor("authority", authority.name),
        action="order_copy_received",
        subject="order_copy",
        detail={"order_id": order.order_id, "provider": order.provider_name},
    )
    return _answer(row)


INTAKE = SignedIntake(
    takes=ORDERS_TAKEN,
    kinds=ORDER_KINDS,
    conflict="another document was received under this order's id",
    sender=authority_of,
    find=_find,
    take=_take,
)


def receive_answer_copy(
    database: Database,
    key_id: str,
    body: bytes,
    signature: str,
    now: datetime,
    window: SigningWindow,
) -> tuple[dict[str, Any], bool]:
    """Verify and keep the copy of an authority's answer to an impediment (`POST
    /v1/orders/answers`), by its order's id; the answer, and whether it was new."""
    return ANSWERS.receive(database, key_id, body, signature, now, window)


def _find_answer(
    session: Session, authority: AuthorityKey, message: Message
) -> tuple[tuple[AuthorityKey, ImpedimentAnswerDocument], Earlier | None]:
    answer = read_impediment_answer(message.payload)
    check_document_key(answer.key, message, "answer")
    earlier = stored_under(
        session,
        CentreOrderAnswer,
        CentreOrderAnswer.authority_id == authority.id,
        CentreOrderAnswer.answer_ref == answer.key,
        answer=_answer_of_answer,
    )
    return (authority, answer), earlier


def _take_answer(
    session: Session, found: tuple[AuthorityKey, ImpedimentAnswerDocument], received: Received
) -> dict[str, Any]:
    authority, answer = found
    row = CentreOrderAnswer(
        authority_id=authority.id,
        order_ref=answer.order_id,
        answer_ref=answer.key,
        number=answer.number,
        kind=answer.kind.value,
        body=received.text,
        signature=received.signature,
        received_at=received.now,
    )
    record_receipt(
        session,
        row,
        received,
        sender=sender_actor("authority", authority.name),
        action="order_answer_copy_received",
        subject="order_answer",
        detail={"order_id": answer.order_id, "answer": answer.kind.value, "number": answer.number},
    )
    return _answer_of_answer(row)


ANSWERS = SignedIntake(
    takes=f"{ANSWER_KIND} documents",
    kinds=frozenset({ANSWER_KIND}),
    conflict="another answer was received under this answer's id",
    sender=authority_of,
    find=_find_answer,
    take=_take_answer,
)


def order_answers(database: Database, order_ref: str) -> list[dict[str, Any]]:
    """The copies of the answers to an order's impediments, oldest first."""
    with database.reader() as session:
        rows = session.scalars(
            select(CentreOrderAnswer)
            .where(CentreOrderAnswer.order_ref == order_ref)
            .order_by(CentreOrderAnswer.number, CentreOrderAnswer.id)
        )
        return [_answer_of_answer(row) for row in rows]


def _answer_of_answer(row: CentreOrderAnswer) -> dict[str, Any]:
    return {
        "id": row.id,
        "order_id": row.order_ref,
        "answer": row.kind,
        "number": row.number,
        "received_at": row.received_at.isoformat(),
    }


def _answer(row: CentreOrderCopy) -> dict[str, Any]:
    return {"id": row.id, "order_id": row.order_ref, "received_at": row.received_at.isoformat()}
