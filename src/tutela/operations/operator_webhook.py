"""The operator's alert webhook: the outbox destination `operator-alerts`, POSTed to
TUTELA_ALERT_WEBHOOK_URL and signed with TUTELA_ALERT_WEBHOOK_SECRET exactly as platform webhooks
are (docs/webhooks.md). Not a report-transport plug-in: the node's own channel, added to the
sender's transports by the composition root when the URL is set."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import httpx

from tutela.clock import Clock, SystemClock
from tutela.errors import ConfigurationError
from tutela.messaging.http import send_request
from tutela.messaging.signing import webhook_signature
from tutela.messaging.transports import (
    OutgoingMessage,
    SendResult,
    Transport,
    TransportContext,
)
from tutela.operations.alerts import ALERT_DESTINATION
from tutela.settings import Settings

SECRET_MIN = 16


class OperatorWebhook(Transport):
    """Built by `from_settings` (or `create`), not registered by name: the node's own channel."""

    name = ALERT_DESTINATION

    def __init__(
        self,
        url: str,
        secret: str,
        client: httpx.Client,
        clock: Clock | None = None,
    ) -> None:
        self.url, self.secret, self.client = url, secret, client
        self.clock = clock or SystemClock()

    @classmethod
    def create(cls, context: TransportContext) -> OperatorWebhook:
        webhook = cls.from_settings(context.settings, context.client)
        if webhook is None:
            raise ConfigurationError("TUTELA_ALERT_WEBHOOK_URL is not set: no alert webhook")
        return webhook

    @classmethod
    def from_settings(cls, settings: Settings, client: httpx.Client) -> OperatorWebhook | None:
        """The webhook when TUTELA_ALERT_WEBHOOK_URL is set; None otherwise."""
        url = settings.alert_webhook_url
        if not url:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError("TUTELA_ALERT_WEBHOOK_URL must be an absolute http(s) URL")
        secret = settings.alert_webhook_secret or ""
        if len(secret) < SECRET_MIN:
            raise ConfigurationError(
                f"TUTELA_ALERT_WEBHOOK_SECRET must be set, {SECRET_MIN} characters or more, "
                "with TUTELA_ALERT_WEBHOOK_URL"
            )
        return cls(url, secret, client)

    def send(self, message: OutgoingMessage) -> SendResult:
        body = json.dumps(message.payload, separators=(",", ":"), sort_keys=True).encode()
        timestamp = str(int(self.clock.now().timestamp()))
        request = self.client.build_request(
            "POST",
            self.url,
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Tutela-Timestamp": timestamp,
                "X-Tutela-Signature": webhook_signature(self.secret, timestamp, body),
                # The same on every try of one alert: the receiver de-duplicates on it.
                "Idempotency-Key": message.idempotency_key,
            },
        )
        send_request(self.client, request)
        return SendResult(status="delivered")
