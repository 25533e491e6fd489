"""Taking a signed detection order at the provider (`POST /v1/orders`, beside removal orders:
`tutela.orders.receiving` verifies the signature, the window and a repeat, then hands the message
here). The order must be complete (`read_detection_order`), addressed to this provider, name only
service parts it has (TUTELA_PROVIDER_SERVICES, when set) and not have ended; otherwise it is
refused with nothing written. Accepted, it is stored in force until its end, with one detection
basis per service part and kind (`tutela.detection.basis_models`): from its start, the pipeline
runs that detection on those parts under it, and stops at its end."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.audit.log import Subject, record
from tutela.detection.basis_models import DetectionBasis
from tutela.errors import InvalidInput
from tutela.messaging.messages import Message
from tutela.orders.detection_documents import read_detection_order
from tutela.orders.models import AuthorityKey, ReceivedOrder
from tutela.orders.states import ReceivedState

ORDER = "order"


def take_detection_order(
    session: Session,
    authority: AuthorityKey,
    message: Message,
    body: bytes,
    signature: str,
    now: datetime,
    provider_name: str,
    services: tuple[str, ...],
) -> ReceivedOrder:
    """Store one verified detection order and its bases; the stored row."""
    order = read_detection_order(message.payload)
    if order.order_id != message.idempotency_key:
        raise InvalidInput("the order's id differs from the signed message's")
    if provider_name and order.provider_name != provider_name:
        raise InvalidInput("the order is addressed to another provider")
    unknown = [part for part in order.services if services and part not in services]
    if unknown:
        raise InvalidInput(
            f"this provider has no service part {', '.join(unknown)} "
            f"(its services: {', '.join(services)})"
        )
    if order.ends_at <= now:
        raise InvalidInput("the order ended before it was received")
    row = ReceivedOrder(
        authority_id=authority.id,
        order_ref=order.order_id,
        kind=order.kind,
        state=ReceivedState.IN_FORCE,
        body=body.decode("utf-8"),
        signature=signature,
        signed_at=message.signed_at[:40],
        received_at=now,
        # Nothing to execute by a deadline: detection runs from the start.
        deadline_at=max(order.starts_at, now),
        ends_at=order.ends_at,
    )
    session.add(row)
    session.flush()
    by = f"authority:{authority.name}"[:128]
    for service in order.services:
        for kind in order.kinds:
            session.add(
                DetectionBasis(
                    source=ORDER,
                    order_id=row.id,
                    order_ref=order.order_id,
                    authority=authority.name,
                    service=service,
                    kind=kind.value,
                    starts_at=order.starts_at,
                    ends_at=order.ends_at,
                    set_by=by,
                    reason=order.reasons,
                    created_at=now,
                )
            )
    session.flush()
    record(
        session,
        by,
        "order_received",
        Subject("order", str(row.id)),
        {
            "order_id": order.order_id,
            "kind": order.kind.value,
            "services": list(order.services),
            "kinds": [kind.value for kind in order.kinds],
            "starts_at": order.starts_at.isoformat(),
            "ends_at": order.ends_at.isoformat(),
        },
        now=now,
    )
    return row


def detection_answer(session: Session, row: ReceivedOrder) -> dict[str, Any]:
    """The receipt of a detection order: the same for every delivery."""
    bases = session.scalars(
        select(DetectionBasis).where(DetectionBasis.order_id == row.id).order_by(DetectionBasis.id)
    ).all()
    services = list(dict.fromkeys(basis.service for basis in bases))
    first = bases[0] if bases else None
    return {
        "id": row.id,
        "order_id": row.order_ref,
        "kind": row.kind,
        "received_at": row.received_at.isoformat(),
        "starts_at": first.starts_at.isoformat() if first else None,
        "ends_at": row.ends_at.isoformat() if row.ends_at else None,
        "kinds": list(dict.fromkeys(basis.kind for basis in bases)),
        "items": [{"ref": str(n), "service": s} for n, s in enumerate(services, start=1)],
    }
