"""The `centre` transport: POST the signed report to the EU Centre node's `/v1/reports`, and a
signed follow-up (update or retraction, tutela.reporting.report_updates) to `/v1/report-updates`."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from tutela.errors import ConfigurationError, PermanentDeliveryError
from tutela.messaging.http import send_request
from tutela.messaging.signing import SignedReport
from tutela.messaging.transports import (
    OutgoingMessage,
    SendResult,
    Transport,
    TransportContext,
)

REPORTS_PATH = "/v1/reports"
UPDATES_PATH = "/v1/report-updates"
# Outbox kinds that are follow-ups to a report (tutela.reporting.report_updates.KINDS).
FOLLOW_UPS = frozenset({"report_update", "report_retraction"})
# Headers of a signed report; the body is the exact canonical bytes that were signed.
KEY_ID_HEADER = "Tutela-Key-Id"
SIGNATURE_HEADER = "Tutela-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def payload_of(signed: SignedReport) -> dict[str, Any]:
    """The outbox payload for a signed report (the body as text: it is UTF-8 JSON)."""
    return {
        "body": signed.body.decode("utf-8"),
        "signature": signed.signature,
        "key_id": signed.key_id,
    }


class CentreTransport(Transport):
    name: ClassVar[str] = "centre"

    def __init__(self, base_url: str, client: httpx.Client) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = client

    @classmethod
    def create(cls, context: TransportContext) -> CentreTransport:
        url = context.options.get("centre_url") or context.settings.centre_url
        if not url:
            raise ConfigurationError(
                "TUTELA_CENTRE_URL is not set; reports cannot reach the centre"
            )
        return cls(str(url), context.client)

    def send(self, message: OutgoingMessage) -> SendResult:
        payload = message.payload
        try:
            body = str(payload["body"]).encode("utf-8")
            headers = {
                "Content-Type": "application/json",
                KEY_ID_HEADER: str(payload["key_id"]),
                SIGNATURE_HEADER: str(payload["signature"]),
                IDEMPOTENCY_HEADER: message.idempotency_key,
            }
        except KeyError:
            raise PermanentDeliveryError("the queued message is not a signed report") from None
        path = UPDATES_PATH if message.kind in FOLLOW_UPS else REPORTS_PATH
        request = self.client.build_request(
            "POST", self.base_url + path, content=body, headers=headers
        )
        response = send_request(self.client, request)
        answer = response.json()
        # The centre answers with its own id once the report is stored: that is an
        # acknowledgement, and the reference the status poll uses later.
        return SendResult(status="acknowledged", remote_ref=str(answer["id"]), detail=None)
