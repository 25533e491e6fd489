"""Taking a signed blocking or delisting order at the provider (`POST /v1/orders`, beside
removal orders: `tutela.orders.receiving` verifies the signature, the window and a repeat, then
hands the message here). The order must name entries of the Centre's URL list that this node
holds, each with the URL the list gives it, and must not have ended; otherwise it is refused
with nothing written. Accepted, it is in force until its end: its URLs are in the RPZ and URL
exports (`tutela.orders.access_exports`) from that moment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.audit.log import Subject, record
from tutela.errors import InvalidInput, UnknownItem
from tutela.messaging.messages import Message
from tutela.orders.access_documents import read_access_order
from tutela.orders.access_models import ListedUrl, ReceivedOrderUrl
from tutela.orders.models import AuthorityKey, ReceivedOrder
from tutela.orders.states import ReceivedState


def take_access_order(
    session: Session,
    authority: AuthorityKey,
    message: Message,
    body: bytes,
    signature: str,
    now: datetime,
    deadline: datetime,
    provider_name: str,
) -> ReceivedOrder:
    """Store one verified blocking or delisting order with its URLs; the stored row."""
    order = read_access_order(message.kind, message.payload)
    if order.order_id != message.idempotency_key:
        raise InvalidInput("the order's id differs from the signed message's")
    if provider_name and order.provider_name != provider_name:
        raise InvalidInput("the order is addressed to another provider")
    if order.ends_at <= now:
        raise InvalidInput("the order ended before it was received")
    ids = [entry.centre_id for entry in order.entries]
    listed = {
        row.centre_id: row
        for row in session.scalars(select(ListedUrl).where(ListedUrl.centre_id.in_(ids)))
    }
    unknown = [
        str(entry.centre_id)
        for entry in order.entries
        if entry.centre_id not in listed or listed[entry.centre_id].url != entry.url
    ]
    if unknown:
        raise UnknownItem(
            "the Centre's URL list as this node holds it has no entry "
            f"{', '.join(unknown)} with that URL; follow the list (`tutela orders url-list "
            "follow`) and try again"
        )
    row = ReceivedOrder(
        authority_id=authority.id,
        order_ref=order.order_id,
        kind=order.kind,
        state=ReceivedState.IN_FORCE,
        body=body.decode("utf-8"),
        signature=signature,
        signed_at=message.signed_at[:40],
        received_at=now,
        deadline_at=deadline,
        ends_at=order.ends_at,
    )
    session.add(row)
    session.flush()
    for entry in order.entries:
        session.add(
            ReceivedOrderUrl(
                order_id=row.id,
                centre_id=entry.centre_id,
                url=entry.url,
                host=listed[entry.centre_id].host,
            )
        )
    session.flush()
    record(
        session,
        f"authority:{authority.name}"[:128],
        "order_received",
        Subject("order", str(row.id)),
        {
            "order_id": order.order_id,
            "kind": order.kind.value,
            "urls": len(order.entries),
            "ends_at": order.ends_at.isoformat(),
        },
        now=now,
    )
    return row


def access_answer(session: Session, row: ReceivedOrder) -> dict[str, Any]:
    """The receipt of a blocking or delisting order: the same for every delivery."""
    urls = session.scalars(
        select(ReceivedOrderUrl)
        .where(ReceivedOrderUrl.order_id == row.id)
        .order_by(ReceivedOrderUrl.id)
    )
    return {
        "id": row.id,
        "order_id": row.order_ref,
        "kind": row.kind,
        "received_at": row.received_at.isoformat(),
        "ends_at": row.ends_at.isoformat() if row.ends_at else None,
        "items": [{"ref": str(url.centre_id), "url": url.url} for url in urls],
    }
