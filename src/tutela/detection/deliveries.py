"""Sends the webhook outbox: signed POSTs, retried with exponential backoff, every try recorded.

Delivery is at least once (DESIGN ground rule 4); receivers de-duplicate on the item id.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select, update

from tutela.db.database import Database
from tutela.db.types import utc_now
from tutela.detection.models import DeliveryAttempt, Webhook, WebhookDelivery
from tutela.detection.webhooks import sign

MAX_ATTEMPTS = 12
MAX_BACKOFF_S = 3600.0
# A claimed delivery is invisible to other senders this long (a sender that dies mid-POST).
CLAIM_S = 60.0
TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class _Due:
    id: int
    url: str
    secret: str
    body: str
    attempts: int


def backoff_s(attempts: int, base_s: float = 1.0) -> float:
    """Wait after the `attempts`-th failure: 1 s, 2 s, 4 s … capped at an hour."""
    return float(min(MAX_BACKOFF_S, base_s * 2 ** max(0, attempts - 1)))


def deliver_due(
    database: Database,
    client: httpx.Client,
    *,
    limit: int = 20,
    now: datetime | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> int:
    """Send up to `limit` deliveries due at `now` (the clock when None); return how many were tried.

    A failed try is retried after `backoff_s(attempts)`; after `max_attempts` the delivery is
    marked failed and no longer sent.
    """
    due = _claim(database, limit, now or utc_now())
    for delivery in due:
        timestamp = str(int(time.time()))
        body = delivery.body.encode()
        status: int | None = None
        error: str | None = None
        try:
            response = client.post(
                delivery.url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Tutela-Timestamp": timestamp,
                    "X-Tutela-Signature": sign(delivery.secret, timestamp, body),
                },
                timeout=TIMEOUT_S,
            )
            status = response.status_code
            if not 200 <= status < 300:
                error = f"endpoint answered {status}"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        _record(database, delivery, status, error, now or utc_now(), max_attempts)
    return len(due)


def _claim(database: Database, limit: int, now: datetime) -> list[_Due]:
    due = WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now
    # A read first: a worker looking for due deliveries after every batch must not take the
    # single SQLite write lock when there are none.
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
            .values(next_attempt_at=now + timedelta(seconds=CLAIM_S))
            .execution_options(synchronize_session=False)
        )
        return [_Due(d.id, w.url, w.secret, d.body, d.attempts) for d, w in rows]


def _record(
    database: Database,
    delivery: _Due,
    status: int | None,
    error: str | None,
    now: datetime,
    max_attempts: int,
) -> None:
    attempts = delivery.attempts + 1
    with database.unit_of_work() as session:
        session.add(
            DeliveryAttempt(delivery_id=delivery.id, status_code=status, error=error, at=now)
        )
        values: dict[str, object] = {"attempts": attempts}
        if error is None:
            values.update(state="delivered", delivered_at=now)
        elif attempts >= max_attempts:
            values.update(state="failed")
        else:
            values.update(next_attempt_at=now + timedelta(seconds=backoff_s(attempts)))
        session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == delivery.id).values(**values)
        )
