"""Finding an order this authority issued from what a provider sends about it (an impediment, an
execution report): the order must have gone to that provider, or it does not exist for it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.authority.models import IssuedOrder, OrderedProvider
from tutela.errors import NotFound


def order_to(
    session: Session, provider: OrderedProvider, order_ref: str, *, lock: bool = False
) -> IssuedOrder:
    """The order with id `order_ref` issued to `provider` (locked for update with `lock`);
    NotFound for any other order, so that a provider learns nothing of another's orders."""
    query = select(IssuedOrder).where(
        IssuedOrder.order_ref == order_ref, IssuedOrder.provider_id == provider.id
    )
    order = session.scalar(query.with_for_update() if lock else query)
    if order is None:
        raise NotFound("no order of this authority to that provider has that id")
    return order
