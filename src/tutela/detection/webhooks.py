"""Webhook endpoints of a platform, and the outbox rows that carry each verdict to them.

Every endpoint belongs to a platform and receives the messages about that platform's items only
(verdicts, takedown requests, notices, complaint outcomes): the outbox rows are written for the
item's platform's endpoints, whoever writes them.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast
from urllib.parse import urlsplit

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from tutela.auth.platforms import DEFAULT_PLATFORM
from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.detection.models import (
    DeliveryAttempt,
    DeliveryState,
    Item,
    Webhook,
    WebhookDelivery,
)
from tutela.egress import refuse_private_host
from tutela.errors import InvalidInput, NotFound, RefusedTarget

SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class WebhookView:
    id: int
    url: str
    active: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AttemptView:
    delivery_id: int
    item_id: int
    state: str
    status_code: int | None
    error: str | None
    at: datetime


def refuse_private_target(url: str) -> None:
    """Refuse a webhook URL that names this machine or a private network by its address, as
    `localhost`, or by a name that resolves to such an address: a platform must not make the
    node POST to the node's own neighbours (SSRF). Every delivery checks again, and connects to
    the address it checked (tutela.egress), so a name that changes its answer later is caught."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InvalidInput("webhook url has an invalid port") from None
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidInput("webhook url must be an absolute http(s) URL")
    try:
        refuse_private_host(host, port)
    except RefusedTarget as refused:
        raise InvalidInput(refused.message) from None


def register_webhook(
    database: Database, url: str, secret: str | None = None, *, platform: str = DEFAULT_PLATFORM
) -> tuple[WebhookView, str]:
    """Register an endpoint of `platform`; return it and its signing secret (generated unless
    given)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput("webhook url must be an absolute http(s) URL")
    if secret is not None and len(secret) < 16:
        raise InvalidInput("webhook secret must be at least 16 characters")
    secret = secret or secrets.token_urlsafe(SECRET_BYTES)
    with database.unit_of_work() as session:
        row = Webhook(platform=platform, url=url, secret=secret, active=True, created_at=utc_now())
        session.add(row)
        session.flush()
        return _view(row), secret


def list_webhooks(database: Database, *, platform: str = DEFAULT_PLATFORM) -> list[WebhookView]:
    """The platform's active endpoints."""
    with database.reader() as session:
        rows = session.scalars(
            select(Webhook).where(Webhook.active, Webhook.platform == platform).order_by(Webhook.id)
        )
        return [_view(row) for row in rows]


def delete_webhook(
    database: Database, webhook_id: int, *, platform: str = DEFAULT_PLATFORM
) -> None:
    """Stop delivering to an endpoint of `platform`: its pending deliveries fail with the reason
    recorded (they are not sent, and not requeued later); its delivery history is kept. Another
    platform's endpoint is NotFound, as a missing one."""
    with database.unit_of_work() as session:
        row = session.get(Webhook, webhook_id)
        if row is None or not row.active or row.platform != platform:
            raise NotFound(f"no webhook {webhook_id}")
        row.active = False
        pending = session.scalars(
            select(WebhookDelivery).where(
                WebhookDelivery.webhook_id == webhook_id,
                WebhookDelivery.state == DeliveryState.PENDING,
            )
        ).all()
        for delivery in pending:
            delivery.state = DeliveryState.FAILED
            session.add(DeliveryAttempt(delivery_id=delivery.id, error="endpoint deleted"))


def list_attempts(
    database: Database, webhook_id: int, *, platform: str = DEFAULT_PLATFORM, limit: int = 200
) -> list[AttemptView]:
    """Tries to deliver to an endpoint of `platform`, newest first."""
    with database.reader() as session:
        row = session.get(Webhook, webhook_id)
        if row is None or row.platform != platform:
            raise NotFound(f"no webhook {webhook_id}")
        rows = session.execute(
            select(WebhookDelivery, DeliveryAttempt)
            .join(DeliveryAttempt, DeliveryAttempt.delivery_id == WebhookDelivery.id)
            .where(WebhookDelivery.webhook_id == webhook_id)
            .order_by(DeliveryAttempt.id.desc())
            .limit(limit)
        ).all()
        return [
            AttemptView(d.id, d.item_id, d.state, a.status_code, a.error, a.at) for d, a in rows
        ]


# Built once (every batch of verdicts runs them; building one costs about as much as running it).
_ACTIVE_HOOKS = select(Webhook.id, Webhook.platform).where(Webhook.active)
_INSERT_DELIVERIES = insert(cast(Table, WebhookDelivery.__table__))


def enqueue_platform_event(session: Session, item_id: int, message: dict[str, object]) -> int:
    """Queue one message about an item for its platform (a verdict, takedown request or hold,
    user notice, complaint outcome, removal order ...): one outbox row per active endpoint of the
    item's platform, inside the caller's transaction, so it commits with what it reports."""
    return enqueue_platform_events(session, [(item_id, message)])


def enqueue_platform_events(
    session: Session,
    messages: Sequence[tuple[int, dict[str, object]]],
    *,
    platforms: Mapping[int, str] | None = None,
) -> int:
    """`enqueue_platform_event` for a batch of messages: one insert for all their outbox rows.
    `platforms` (item id → platform) saves reading the items' platforms when the caller knows."""
    if not messages:
        return 0
    hooks: dict[str, list[int]] = {}
    for hook_id, platform in session.execute(_ACTIVE_HOOKS):
        hooks.setdefault(platform, []).append(hook_id)
    if not hooks:
        return 0
    if platforms is None:
        ids = sorted({item_id for item_id, _ in messages})
        query = select(Item.id, Item.platform).where(Item.id.in_(ids))
        platforms = {int(ident): str(platform) for ident, platform in session.execute(query)}
    now = utc_now()
    rows = [
        {
            "platform": owner,
            "webhook_id": hook_id,
            "item_id": item_id,
            "body": body,
            "state": DeliveryState.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for item_id, message in messages
        if (owner := platforms.get(item_id)) is not None and owner in hooks
        for body in [json.dumps(message, separators=(",", ":"), sort_keys=True)]
        for hook_id in hooks[owner]
    ]
    if rows:
        session.execute(_INSERT_DELIVERIES, rows)
    return len(rows)


def _view(row: Webhook) -> WebhookView:
    return WebhookView(row.id, row.url, row.active, row.created_at)
