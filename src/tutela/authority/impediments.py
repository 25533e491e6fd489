"""The impediments providers file, as they file them (`POST /v1/order-impediments` on the
authority node): each a signed `order.impediment` (tutela.orders.impediment_notices) verified
against the provider's registered key, for an order this authority issued to that provider, kept
with its exact bytes and audited — or refused with nothing written. A repeat is answered as the
first; another document under a stored impediment's id is a conflict. The order's page shows them
at once; the order's state still follows the signed execution report, which names them again
once every item is settled (tutela.authority.reports)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.audit.log import Subject
from tutela.audit.receipts import record_receipt, sender_actor
from tutela.authority.answer_models import IssuedOrderImpediment
from tutela.authority.issued_orders import order_to
from tutela.authority.models import IssuedOrder, OrderedProvider
from tutela.authority.providers import provider_of
from tutela.db.database import Database
from tutela.errors import InvalidInput
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
from tutela.orders.impediment_notices import (
    IMPEDIMENT_KIND,
    ImpedimentNotice,
    read_impediment_notice,
)


def receive_impediment(
    database: Database,
    key_id: str,
    body: bytes,
    signature: str,
    now: datetime,
    window: SigningWindow,
) -> tuple[dict[str, Any], bool]:
    """Verify and keep one filed impediment; the answer, and whether it was new."""
    return INTAKE.receive(database, key_id, body, signature, now, window)


@dataclass(frozen=True, slots=True)
class _Filed:
    provider: OrderedProvider
    order: IssuedOrder
    notice: ImpedimentNotice


def _find(
    session: Session, provider: OrderedProvider, message: Message
) -> tuple[_Filed, Earlier | None]:
    notice = read_impediment_notice(message.payload)
    check_document_key(notice.key, message, "impediment")
    order = order_to(session, provider, notice.order_id)
    earlier = stored_under(
        session,
        IssuedOrderImpediment,
        IssuedOrderImpediment.order_id == order.id,
        IssuedOrderImpediment.notice_ref == notice.key,
        answer=_answer,
    )
    return _Filed(provider, order, notice), earlier


def _take(session: Session, filed: _Filed, received: Received) -> dict[str, Any]:
    notice, order = filed.notice, filed.order
    refs = {str(item.get("ref")) for item in _items(order)}
    if notice.item_ref not in refs:
        raise InvalidInput(f"the order names no item {notice.item_ref!r}")
    row = IssuedOrderImpediment(
        order_id=order.id,
        notice_ref=notice.key,
        round=notice.round,
        item_ref=notice.item_ref,
        reason=notice.reason.value,
        explanation=notice.explanation,
        filed_at=notice.filed_at,
        body=received.text,
        signature=received.signature,
        received_at=received.now,
    )
    record_receipt(
        session,
        row,
        received,
        sender=sender_actor("provider", filed.provider.name),
        action="order_impediment_received",
        subject=Subject("order", str(order.id)),
        detail={
            "order_id": order.order_ref,
            "item": notice.item_ref,
            "impediment": notice.reason.value,
            "round": notice.round,
        },
    )
    return _answer(row)


INTAKE = SignedIntake(
    takes=f"{IMPEDIMENT_KIND} documents",
    kinds=frozenset({IMPEDIMENT_KIND}),
    conflict="another document was received under this impediment's id",
    sender=provider_of,
    find=_find,
    take=_take,
)


@dataclass(frozen=True, slots=True)
class FiledImpediment:
    """An impediment as the order's page shows it."""

    item: str
    reason: str
    explanation: str
    round: int
    filed_at: datetime
    received_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "impediment": self.reason,
            "explanation": self.explanation,
            "round": self.round,
            "filed_at": self.filed_at.isoformat(),
            "received_at": self.received_at.isoformat(),
        }


def filed_impediments(database: Database, order_id: int) -> list[FiledImpediment]:
    """The impediments filed against the order, in the order they came."""
    with database.reader() as session:
        return impediments_of(session, order_id)


def impediments_of(session: Session, order_id: int) -> list[FiledImpediment]:
    rows = session.scalars(
        select(IssuedOrderImpediment)
        .where(IssuedOrderImpediment.order_id == order_id)
        .order_by(IssuedOrderImpediment.id)
    )
    return [
        FiledImpediment(
            row.item_ref, row.reason, row.explanation, row.round, row.filed_at, row.received_at
        )
        for row in rows
    ]


def _items(order: IssuedOrder) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = parse_json(order.body.encode("utf-8"))["payload"]["items"]
    return items


def _answer(row: IssuedOrderImpediment) -> dict[str, Any]:
    return {"id": row.id, "item": row.item_ref, "received_at": row.received_at.isoformat()}
