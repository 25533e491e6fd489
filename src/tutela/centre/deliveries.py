"""How the centre's outbox reaches its receivers: one signed HTTP POST per message, to the
recipient's endpoint (Europol, LEAs; Art 48(3)) or the provider's `/v1/centre-messages`
(Art 48(2), (6)-(7)). The signature is made at send time with the centre's key; the idempotency
key inside the signed body and in the header lets receivers de-duplicate retries."""

from __future__ import annotations

import httpx

from tutela.centre.keys import load_centre_key
from tutela.centre.models import CentreProvider
from tutela.centre.recipients import recipient_url
from tutela.centre.triage import TO_EUROPOL, TO_LEA, TO_PROVIDER
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.errors import NotFound, PermanentDeliveryError, TransientDeliveryError
from tutela.messaging.http import send_request
from tutela.messaging.messages import sign_message
from tutela.messaging.signing import SigningKey
from tutela.messaging.transports import OutgoingMessage, SendResult, Transport, TransportContext

PROVIDER_MESSAGES_PATH = "/v1/centre-messages"


class CentreDelivery(Transport):
    """The centre's own deliveries: one transport under the three destinations of
    `centre_transports`, so not registered by name."""

    name = "centre-delivery"

    def __init__(
        self,
        database: Database,
        client: httpx.Client,
        key: SigningKey,
        clock: Clock | None = None,
    ) -> None:
        self.database = database
        self.client = client
        self.key = key
        self.clock = clock or SystemClock()

    @classmethod
    def create(cls, context: TransportContext) -> CentreDelivery:
        return cls(context.database, context.client, load_centre_key(context.settings))

    def send(self, message: OutgoingMessage) -> SendResult:
        url = self._url(message)
        signed = sign_message(
            self.key, message.kind, message.idempotency_key, message.payload, self.clock.now()
        )
        request = self.client.build_request(
            "POST", url, content=signed.body, headers=signed.headers(message.idempotency_key)
        )
        send_request(self.client, request)
        return SendResult(status="delivered")

    def _url(self, message: OutgoingMessage) -> str:
        with self.database.reader() as session:
            if message.destination == TO_PROVIDER:
                provider = session.get(CentreProvider, int(message.payload["provider_id"]))
                if provider is None:
                    raise PermanentDeliveryError("the provider is no longer registered")
                if not provider.endpoint_url:
                    # Kept and retried: the provider may register its endpoint later.
                    raise TransientDeliveryError("the provider has no endpoint registered")
                return provider.endpoint_url.rstrip("/") + PROVIDER_MESSAGES_PATH
            try:
                return recipient_url(session, str(message.payload["recipient"]))
            except NotFound:
                raise TransientDeliveryError("the recipient has no endpoint registered") from None


def centre_transports(
    database: Database, client: httpx.Client, key: SigningKey
) -> dict[str, Transport]:
    """The outbox destinations of a centre node, all delivered by signed POSTs."""
    delivery = CentreDelivery(database, client, key)
    return {TO_PROVIDER: delivery, TO_EUROPOL: delivery, TO_LEA: delivery}
