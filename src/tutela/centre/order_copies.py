"""The EU Centre's copies of orders (`POST /v1/orders` on the centre node): every order an
authority issues is copied to the Centre, which keeps it, verified against the authority's
registered key (`tutela authority-key add` on the centre's database). A repeated delivery is
answered as the first was and stores nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tutela.audit.log import Subject, record
from tutela.centre.order_copy_models import CentreOrderCopy
from tutela.db.database import Database
from tutela.errors import Conflict, InvalidInput
from tutela.messaging.messages import open_message
from tutela.messaging.signing import SigningWindow
from tutela.orders.access_documents import ACCESS_KINDS, AccessOrder, read_access_order
from tutela.orders.authority_keys import authority_of
from tutela.orders.detection_documents import (
    DETECTION_KIND,
    DetectionOrder,
    read_detection_order,
)
from tutela.orders.documents import REMOVAL_KIND, RemovalOrder, read_removal_order


def receive_order_copy(
    database: Database,
    key_id: str,
    body: bytes,
    signature: str,
    now: datetime,
    window: SigningWindow,
) -> tuple[dict[str, Any], bool]:
    """Verify and keep one order's copy; the answer, and whether it was new."""
    try:
        return _receive(database, key_id, body, signature, now, window)
    except IntegrityError:  # the same copy delivered twice at once
        return _receive(database, key_id, body, signature, now, window)


def _receive(
    database: Database,
    key_id: str,
    body: bytes,
    signature: str,
    now: datetime,
    window: SigningWindow,
) -> tuple[dict[str, Any], bool]:
    with database.unit_of_work() as session:
        authority, public_key = authority_of(session, key_id)
        message = open_message(public_key, key_id, body, signature)
        if message.kind not in ACCESS_KINDS | {REMOVAL_KIND, DETECTION_KIND}:
            raise InvalidInput(
                "this endpoint takes removal, blocking, delisting and detection orders"
            )
        earlier = session.scalar(
            select(CentreOrderCopy).where(
                CentreOrderCopy.authority_id == authority.id,
                CentreOrderCopy.order_ref == message.idempotency_key,
            )
        )
        if earlier is not None:
            if earlier.signature != signature:
                raise Conflict("another document was received under this order's id")
            return _answer(earlier), False
        window.check(message.signed_at, now)
        order: RemovalOrder | AccessOrder | DetectionOrder
        if message.kind in ACCESS_KINDS:
            order = read_access_order(message.kind, message.payload)
        elif message.kind == DETECTION_KIND:
            order = read_detection_order(message.payload)
        else:
            order = read_removal_order(message.payload)
        if order.order_id != message.idempotency_key:
            raise InvalidInput("the order's id differs from the signed message's")
        row = CentreOrderCopy(
            authority_id=authority.id,
            order_ref=order.order_id,
            kind=order.kind,
            provider=order.provider_name,
            body=body.decode("utf-8"),
            signature=signature,
            received_at=now,
        )
        session.add(row)
        session.flush()
        record(
            session,
            f"authority:{authority.name}"[:128],
            "order_copy_received",
            Subject("order_copy", str(row.id)),
            {"order_id": order.order_id, "provider": order.provider_name},
            now=now,
        )
        return _answer(row), True


def _answer(row: CentreOrderCopy) -> dict[str, Any]:
    return {"id": row.id, "order_id": row.order_ref, "received_at": row.received_at.isoformat()}
