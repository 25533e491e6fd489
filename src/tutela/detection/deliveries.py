"""The platforms' webhook deliveries as an outbox of the one delivery engine
(tutela.messaging.delivery): this module holds the table adapter (claims, every try recorded in
`delivery_attempts`) and the transport that POSTs a delivery, HMAC-signed with its endpoint's
secret. Retries, backoff with jitter and giving up follow the engine's one rule.

Delivery is at least once (DESIGN ground rule 4); receivers de-duplicate on `id` plus `event`,
or on the Idempotency-Key header.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from datetime import datetime, timedelta
from typing import ClassVar

import httpx
from sqlalchemy import insert, select, update

from tutela.clock import Clock, SystemClock, utc_now
from tutela.db.database import Database
from tutela.detection.models import DeliveryAttempt, DeliveryState, Webhook, WebhookDelivery
from tutela.egress import PinnedTransport
from tutela.messaging import delivery
from tutela.messaging.delivery import Outcome, Tried
from tutela.messaging.http import open_client
from tutela.messaging.retry import RetryPolicy, classify_exception, classify_response, raise_for
from tutela.messaging.signing import webhook_signature
from tutela.messaging.transports import OutgoingMessage, SendResult, Transport, TransportContext

DESTINATION = "platform-webhook"
MAX_ATTEMPTS = 12
BASE_BACKOFF_S = 1.0
MAX_BACKOFF_S = 3600.0
# A claimed delivery is invisible to other senders this long (a sender that dies mid-POST):
# TUTELA_WEBHOOK_CLAIM_S's default.
CLAIM_S = 60.0
TIMEOUT_S = 10.0
# Deliveries claimed at once, and POSTed this many at a time: a receiver across a network answers
# in tens of milliseconds, and one POST at a time held a node to a few dozen verdicts a second.
# LIMIT / CONCURRENCY rounds of TIMEOUT_S fit within CLAIM_S: no claim runs out while its batch is
# still being sent (a shorter claim takes fewer at once, see claim_limit).
LIMIT = 64
CONCURRENCY = 16


def deliver_due(
    database: Database,
    client: httpx.Client,
    *,
    limit: int = LIMIT,
    now: datetime | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    pool: Executor | None = None,
    rng: Callable[[], float] = random.random,
    claim_s: float = CLAIM_S,
) -> int:
    """Send up to `limit` deliveries due at `now` (the clock when None); return how many were tried.

    With `pool`, they are POSTed concurrently on its threads (the sender's, CONCURRENCY of them);
    every try is then recorded in one transaction. A failed try is retried after the engine's
    backoff (1 s, 2 s, 4 s … up to an hour, each between half and all of that); after
    `max_attempts`, or an answer that refuses it for good, the delivery is marked failed.
    What it claims stays claimed `claim_s` seconds (TUTELA_WEBHOOK_CLAIM_S): a sender that dies
    meanwhile leaves them to the next one after that.
    """
    run = delivery.deliver_due(
        database,
        DELIVERIES,
        {DESTINATION: WebhookTransport(client)},
        now or utc_now(),
        RetryPolicy(max_attempts, BASE_BACKOFF_S, MAX_BACKOFF_S, rng),
        limit=claim_limit(limit, claim_s),
        claim_s=claim_s,
        pool=pool,
        together=True,
    )
    return run.tried


def claim_limit(limit: int, claim_s: float) -> int:
    """At most `limit` deliveries, and no more than CONCURRENCY per TIMEOUT_S of the claim (at
    least one round): a claim does not run out while its batch is still being sent."""
    rounds = max(1, int(claim_s // TIMEOUT_S))
    return max(1, min(limit, CONCURRENCY * rounds))


def webhook_client(*, allow_private: bool, timeout_s: float = TIMEOUT_S) -> httpx.Client:
    """The client platform webhooks are POSTed with (the one client factory's): connecting only
    to addresses tutela.egress checked as public, or, on a node that allows private targets,
    httpx's own transport (environment proxies honoured)."""
    if allow_private:
        return open_client(timeout_s)
    return open_client(timeout_s, transport=PinnedTransport())


class WebhookTransport(Transport):
    """POSTs one delivery to its endpoint. Not registered by name: built by `deliver_due` for
    the webhook table, whose rows carry their own endpoint."""

    name: ClassVar[str] = DESTINATION

    def __init__(self, client: httpx.Client, clock: Clock | None = None) -> None:
        self.client = client
        self.clock = clock or SystemClock()

    @classmethod
    def create(cls, context: TransportContext) -> WebhookTransport:
        return cls(context.client)

    def send(self, message: OutgoingMessage) -> SendResult:
        timestamp = str(int(self.clock.now().timestamp()))
        body = str(message.payload["body"]).encode()
        secret = str(message.payload["secret"])
        try:
            response = self.client.post(
                str(message.payload["url"]),
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Tutela-Timestamp": timestamp,
                    "X-Tutela-Signature": webhook_signature(secret, timestamp, body),
                    "Idempotency-Key": message.idempotency_key,
                },
                timeout=TIMEOUT_S,
            )
        except httpx.HTTPError as error:
            raise_for(classify_exception(error), "endpoint")
            raise  # unreachable: a failure on the way is always retried
        raise_for(classify_response(response), "endpoint")
        return SendResult(status="delivered", status_code=response.status_code)


class DeliveryTable:
    """The `webhook_deliveries` table as the delivery engine reaches it (an OutboxTable). A claim
    moves `next_attempt_at` past the claim time; the table has no claim token, so a sender
    whose claim ran out may still record its tries (as before the engine was shared)."""

    def claim(
        self,
        database: Database,
        destinations: Sequence[str],
        now: datetime,
        limit: int,
        claim_s: float,
        token: str,
    ) -> list[OutgoingMessage]:
        if DESTINATION not in destinations:
            return []
        due = WebhookDelivery.state == DeliveryState.PENDING, WebhookDelivery.next_attempt_at <= now
        # A read first: a worker looking for due deliveries after every batch must not take
        # the single SQLite write lock when there are none.
        with database.reader() as session:
            if session.scalar(select(WebhookDelivery.id).where(*due).limit(1)) is None:
                return []
        query = (
            select(WebhookDelivery, Webhook)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(*due)
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
        )
        with database.unit_of_work() as session:
            if database.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True, of=WebhookDelivery)
            rows = session.execute(query).all()
            if not rows:
                return []
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_([d.id for d, _ in rows]))
                .values(next_attempt_at=now + timedelta(seconds=claim_s))
                .execution_options(synchronize_session=False)
            )
            return [
                OutgoingMessage(
                    id=d.id,
                    destination=DESTINATION,
                    kind="webhook",
                    payload={"url": w.url, "secret": w.secret, "body": d.body},
                    idempotency_key=f"webhook-delivery-{d.id}",
                    attempt=d.attempts + 1,
                )
                for d, w in rows
            ]

    def record(self, database: Database, tried: Sequence[Tried], now: datetime, token: str) -> None:
        """Every try of one run and where it leaves its delivery, in one transaction."""
        attempts = []
        updates = []
        for one in tried:
            delivered = one.outcome is Outcome.DELIVERED
            state = {
                Outcome.DELIVERED: DeliveryState.DELIVERED,
                Outcome.FAILED: DeliveryState.FAILED,
            }.get(one.outcome, DeliveryState.PENDING)
            attempts.append(
                {
                    "delivery_id": one.message.id,
                    "status_code": one.status_code,
                    "error": None if delivered else one.reason,
                    "at": now,
                }
            )
            updates.append(
                {
                    "id": one.message.id,
                    "attempts": one.message.attempt,
                    "state": state,
                    "next_attempt_at": one.next_attempt_at,
                    "delivered_at": now if delivered else None,
                }
            )
        with database.unit_of_work() as session:
            session.execute(insert(DeliveryAttempt), attempts)
            session.execute(update(WebhookDelivery), updates)  # by primary key, one executemany


DELIVERIES = DeliveryTable()
