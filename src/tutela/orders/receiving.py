"""Taking a signed order at the provider (`POST /v1/orders`): verified against the
registered authority's key, inside the signing window, complete (Annex IV), addressed to this
provider and naming only items it holds — or refused with nothing written. Accepted, it is
stored with its items and deadline (Art 14(1): TUTELA_REMOVAL_DEADLINE_HOURS from receipt) and
each item goes to its platform as a signed `order.removal_requested` webhook, all in one
transaction. Blocking and delisting orders, verified the same way, are taken by
`tutela.orders.access_receiving`, detection orders by `tutela.orders.detection_receiving`. A
repeated delivery is answered as the first was and changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.audit.receipts import record_receipt, sender_actor
from tutela.db.database import Database
from tutela.detection.models import Item
from tutela.detection.webhooks import enqueue_platform_events
from tutela.errors import InvalidInput, UnknownItem
from tutela.messaging.messages import Message
from tutela.messaging.signed_intake import Earlier, Received, SignedIntake, stored_under
from tutela.messaging.signing import SigningWindow
from tutela.orders.access_documents import ACCESS_KINDS
from tutela.orders.access_receiving import access_answer, take_access_order
from tutela.orders.authority_keys import authority_of
from tutela.orders.detection_documents import DETECTION_KIND
from tutela.orders.detection_receiving import detection_answer, take_detection_order
from tutela.orders.documents import OrderedItem, RemovalOrder, read_removal_order
from tutela.orders.models import AuthorityKey, ReceivedOrder, ReceivedOrderItem
from tutela.orders.reading import ORDER_KINDS, ORDERS_TAKEN, check_order_id
from tutela.orders.states import ItemState, OrderKind, ReceivedState

EVENT = "order.removal_requested"


@dataclass(frozen=True, slots=True)
class OrderRules:
    """What the receiving node holds an order to."""

    window: SigningWindow
    deadline: timedelta
    # This provider's legal name (TUTELA_PROVIDER_NAME); an order to another is refused.
    provider_name: str = ""
    # Its service parts (TUTELA_PROVIDER_SERVICES); a detection order naming another is refused.
    services: tuple[str, ...] = ()


def receive_order(
    database: Database, key_id: str, body: bytes, signature: str, now: datetime, rules: OrderRules
) -> tuple[dict[str, Any], bool]:
    """Verify and take one removal order; the answer, and whether the order is new."""
    return _intake(rules).receive(database, key_id, body, signature, now, rules.window)


def _intake(rules: OrderRules) -> SignedIntake[AuthorityKey, AuthorityKey]:
    return SignedIntake(
        takes=ORDERS_TAKEN,
        kinds=ORDER_KINDS,
        conflict="another document was received under this order's id",
        sender=authority_of,
        find=_find,
        take=partial(_take, rules=rules),
    )


def _find(
    session: Session, authority: AuthorityKey, message: Message
) -> tuple[AuthorityKey, Earlier | None]:
    earlier = stored_under(
        session,
        ReceivedOrder,
        ReceivedOrder.authority_id == authority.id,
        ReceivedOrder.order_ref == message.idempotency_key,
        answer=partial(_answer, session),
    )
    return authority, earlier


def _take(
    session: Session, authority: AuthorityKey, received: Received, *, rules: OrderRules
) -> dict[str, Any]:
    message, body, signature, now = (
        received.message,
        received.body,
        received.signature,
        received.now,
    )
    if message.kind in ACCESS_KINDS:
        taken = take_access_order(
            session,
            authority,
            message,
            body,
            signature,
            now,
            now + rules.deadline,
            rules.provider_name,
        )
        return access_answer(session, taken)
    if message.kind == DETECTION_KIND:
        detection = take_detection_order(
            session,
            authority,
            message,
            body,
            signature,
            now,
            rules.provider_name,
            rules.services,
        )
        return detection_answer(session, detection)
    order = read_removal_order(message.payload)
    check_order_id(order.order_id, message)
    if rules.provider_name and order.provider_name != rules.provider_name:
        raise InvalidInput("the order is addressed to another provider")
    items = _resolve(session, order.items)
    row = ReceivedOrder(
        authority_id=authority.id,
        order_ref=order.order_id,
        kind=order.kind,
        state=ReceivedState.RECEIVED,
        body=received.text,
        signature=signature,
        signed_at=message.signed_at[:40],
        received_at=now,
        deadline_at=now + rules.deadline,
        non_disclosure_until=order.non_disclosure_until(now),
    )
    session.add(row)
    session.flush()
    for ordered, item in items:
        session.add(
            ReceivedOrderItem(
                order_id=row.id,
                ref=ordered.ref,
                item_id=item.id,
                platform=item.platform,
                item_ref=item.item_ref,
                state=ItemState.REQUESTED,
            )
        )
    session.flush()
    enqueue_platform_events(
        session,
        [(item.id, _webhook(row, order, ordered, item)) for ordered, item in items],
        platforms={item.id: item.platform for _, item in items},
    )
    record_receipt(
        session,
        row,
        received,
        sender=sender_actor("authority", authority.name),
        action="order_received",
        subject="order",
        detail={
            "order_id": order.order_id,
            "items": len(items),
            "deadline_at": row.deadline_at.isoformat(),
        },
    )
    return _answer(session, row)


def _resolve(session: Session, ordered: tuple[OrderedItem, ...]) -> list[tuple[OrderedItem, Item]]:
    """Each ordered item as the upload it names (the newest, where an id was uploaded again);
    `UnknownItem` naming every item this provider does not hold."""
    found: list[tuple[OrderedItem, Item]] = []
    unknown: list[str] = []
    for entry in ordered:
        query = select(Item)
        if entry.item_id is not None:
            query = query.where(Item.item_ref == entry.item_id)
        if entry.sha256 is not None:
            query = query.where(Item.content_digest == entry.sha256)
        if entry.url is not None:
            query = query.where(Item.meta["url"].as_string() == entry.url)
        item = session.scalar(query.order_by(Item.id.desc()).limit(1))
        if item is None:
            unknown.append(entry.ref)
        else:
            found.append((entry, item))
    if unknown:
        raise UnknownItem(
            f"this provider holds no item for the order's item(s) {', '.join(unknown)}"
        )
    ids = [item.id for _, item in found]
    if len(set(ids)) != len(ids):
        raise InvalidInput("the order names one item twice")
    return found


def _webhook(
    row: ReceivedOrder, order: RemovalOrder, ordered: OrderedItem, item: Item
) -> dict[str, object]:
    base = f"/v1/orders/{row.id}/items/{item.id}"
    return {
        "event": EVENT,
        "order_id": row.id,
        "order_ref": row.order_ref,
        "order_item": ordered.ref,
        "id": item.id,
        "item_id": item.item_ref,
        "authority": order.authority_name,
        "reasons": order.reasons,
        "legal_basis": order.legal_basis,
        "received_at": row.received_at.isoformat(),
        # Art 14(1): remove or disable in all Member States by then.
        "deadline_at": row.deadline_at.isoformat(),
        # Art 15(4): the uploader is told nothing before this time.
        "non_disclosure_until": (
            row.non_disclosure_until.isoformat() if row.non_disclosure_until else None
        ),
        "confirm": base + "/executed",
        "impediment": base + "/impediment",
    }


def _answer(session: Session, row: ReceivedOrder) -> dict[str, Any]:
    """The receipt: the same for every delivery of the order."""
    if row.kind == OrderKind.DETECTION:
        return detection_answer(session, row)
    if row.kind != OrderKind.REMOVAL:
        return access_answer(session, row)
    items = session.scalars(
        select(ReceivedOrderItem)
        .where(ReceivedOrderItem.order_id == row.id)
        .order_by(ReceivedOrderItem.id)
    )
    return {
        "id": row.id,
        "order_id": row.order_ref,
        "received_at": row.received_at.isoformat(),
        "deadline_at": row.deadline_at.isoformat(),
        "items": [{"ref": item.ref, "id": item.item_id} for item in items],
    }
