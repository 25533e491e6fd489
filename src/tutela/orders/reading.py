"""Reading any order a node is sent, whatever its kind: the message kinds an order may come as,
and the one reader that picks the kind's own (removal: Annex IV, blocking and delisting: Art 16-18,
detection: Art 7-8) and checks that the order's id is the signed message's."""

from __future__ import annotations

from tutela.errors import InvalidInput
from tutela.messaging.messages import Message
from tutela.orders.access_documents import ACCESS_KINDS, AccessOrder, read_access_order
from tutela.orders.detection_documents import (
    DETECTION_KIND,
    DetectionOrder,
    read_detection_order,
)
from tutela.orders.documents import REMOVAL_KIND, RemovalOrder, read_removal_order

ORDER_KINDS = ACCESS_KINDS | {REMOVAL_KIND, DETECTION_KIND}
# What an order intake's refusal of another kind of document says it takes.
ORDERS_TAKEN = "removal, blocking, delisting and detection orders"

Order = RemovalOrder | AccessOrder | DetectionOrder


def read_order(message: Message) -> Order:
    """The order a verified message of one of ORDER_KINDS states."""
    order: Order
    if message.kind in ACCESS_KINDS:
        order = read_access_order(message.kind, message.payload)
    elif message.kind == DETECTION_KIND:
        order = read_detection_order(message.payload)
    else:
        order = read_removal_order(message.payload)
    check_order_id(order.order_id, message)
    return order


def check_order_id(order_id: str, message: Message) -> None:
    if order_id != message.idempotency_key:
        raise InvalidInput("the order's id differs from the signed message's")
