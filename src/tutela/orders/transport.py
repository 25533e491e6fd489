"""The `orders` transport: delivers signed order documents between nodes, through the one outbox
(at least once; DESIGN rule 4). The authority's orders to providers and their copies to the EU
Centre, and the providers' execution reports back, are all queued already signed, with the URL
they go to: a retry sends the same bytes, and the receiver recognises them (Idempotency-Key and
the signature's digest) and answers as it did the first time."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from tutela.errors import PermanentDeliveryError
from tutela.messaging.http import send_request
from tutela.messaging.messages import SignedMessage
from tutela.messaging.transports import (
    OutgoingMessage,
    SendResult,
    Transport,
    TransportContext,
)

ORDERS = "orders"
# Where each kind of signed document is posted, under the receiving node's base URL.
ORDERS_PATH = "/v1/orders"
REPORTS_PATH = "/v1/order-reports"


def signed_payload(url: str, signed: SignedMessage) -> dict[str, Any]:
    """The outbox payload of one signed document and where it goes."""
    return {
        "url": url,
        "body": signed.body.decode("utf-8"),
        "signature": signed.signature,
        "key_id": signed.key_id,
    }


class OrdersTransport(Transport):
    name: ClassVar[str] = ORDERS

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    @classmethod
    def create(cls, context: TransportContext) -> OrdersTransport:
        return cls(context.client)

    def send(self, message: OutgoingMessage) -> SendResult:
        payload = message.payload
        try:
            url = str(payload["url"])
            signed = SignedMessage(
                str(payload["body"]).encode("utf-8"),
                str(payload["signature"]),
                str(payload["key_id"]),
            )
        except KeyError:
            raise PermanentDeliveryError("the queued message is not a signed document") from None
        request = self.client.build_request(
            "POST", url, content=signed.body, headers=signed.headers(message.idempotency_key)
        )
        response = send_request(self.client, request)
        try:
            answer = response.json()
            ref = answer.get("id") if isinstance(answer, dict) else None
        except ValueError:
            ref = None
        # The receiver stored it and said under which id: an acknowledgement.
        return SendResult(status="acknowledged", remote_ref=None if ref is None else str(ref))


def order_transports(client: httpx.Client) -> dict[str, Transport]:
    """The transport as a node's sender takes it. Built here rather than looked up by name,
    so that a node runs it before the package metadata that registers it was reinstalled."""
    return {ORDERS: OrdersTransport(client)}
