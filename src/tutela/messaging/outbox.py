"""The transactional outbox of messages to other nodes: written in the transaction of the
decision that causes them, then delivered at least once by the engine (tutela.messaging.delivery,
DESIGN rule 4); receivers de-duplicate on the idempotency key that travels with every try. Then
followed by what the receiver says of each (acknowledged, unfounded, forwarded …)."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from tutela.db.database import Database
from tutela.errors import InvalidInput, NotFound
from tutela.messaging import delivery
from tutela.messaging.delivery import Alert, DeliveryRun, FailedMessage, Outcome, Tried
from tutela.messaging.outbox_models import MessageStatus, OutboxMessage
from tutela.messaging.retry import RetryPolicy
from tutela.messaging.transports import OutgoingMessage, SendResult, Transport

__all__ = [
    "CLAIM_S",
    "MAX_ATTEMPTS",
    "REMOTE_STATUSES",
    "Alert",
    "DeliveryRun",
    "FailedMessage",
    "MessageTable",
    "deliver_due",
    "enqueue",
    "record_remote_status",
    "record_remote_status_by_key",
    "requeue",
]

# What a receiver may later say about a message it took (Art 48(2)-(3), Art 45).
REMOTE_STATUSES = frozenset(
    {
        MessageStatus.ACKNOWLEDGED,
        MessageStatus.UNFOUNDED,
        MessageStatus.FORWARDED,
        MessageStatus.INFORMATION_REQUESTED,
    }
)

MAX_ATTEMPTS = 12
BASE_BACKOFF_S = 5.0
MAX_BACKOFF_S = 6 * 3600.0
# How long a claimed message stays invisible to other senders; longer than any one send.
CLAIM_S = 300.0


def enqueue(
    session: Session,
    destination: str,
    kind: str,
    payload: dict[str, Any],
    idempotency_key: str,
    now: datetime,
) -> OutboxMessage:
    """Add a message inside the caller's transaction; the same key for the same destination
    returns the message already queued (a retried decision queues nothing twice)."""
    if not idempotency_key or len(idempotency_key) > 128:
        raise InvalidInput("an idempotency key is 1 to 128 characters")
    existing = session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.destination == destination,
            OutboxMessage.idempotency_key == idempotency_key,
        )
    )
    if existing is not None:
        return existing
    message = OutboxMessage(
        destination=destination,
        kind=kind,
        payload=payload,
        idempotency_key=idempotency_key,
        status=MessageStatus.QUEUED,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        status_changed_at=now,
    )
    session.add(message)
    session.flush()
    return message


def deliver_due(
    database: Database,
    transports: Mapping[str, Transport],
    now: datetime,
    *,
    limit: int = 20,
    max_attempts: int = MAX_ATTEMPTS,
    claim_s: float = CLAIM_S,
    alert: Alert | None = None,
    rng: Callable[[], float] = random.random,
    backoff_base_s: float = BASE_BACKOFF_S,
) -> DeliveryRun:
    """Send up to `limit` due messages whose destination has a transport here."""
    policy = RetryPolicy(max_attempts, backoff_base_s, MAX_BACKOFF_S, rng)
    return delivery.deliver_due(
        database,
        MESSAGES,
        transports,
        now,
        policy,
        limit=limit,
        claim_s=claim_s,
        alert=alert,
    )


def record_remote_status(
    session: Session,
    destination: str,
    remote_ref: str,
    status: str,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> OutboxMessage:
    """What the receiver later said of a message (e.g. the centre found it unfounded, Art 48(2))."""
    if status not in REMOTE_STATUSES:
        raise InvalidInput(f"unknown remote status {status!r}")
    message = session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.destination == destination, OutboxMessage.remote_ref == remote_ref
        )
    )
    if message is None:
        raise NotFound(f"no message to {destination} with reference {remote_ref}")
    _set_remote_status(message, status, now, detail)
    return message


def record_remote_status_by_key(
    session: Session,
    destination: str,
    idempotency_key: str,
    status: str,
    now: datetime,
    detail: dict[str, Any] | None = None,
    remote_ref: str | None = None,
) -> OutboxMessage:
    """As `record_remote_status`, found by our own key: the receiver may speak of a message
    before our sender has stored its answer (the sender died between the two)."""
    if status not in REMOTE_STATUSES:
        raise InvalidInput(f"unknown remote status {status!r}")
    message = session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.destination == destination,
            OutboxMessage.idempotency_key == idempotency_key,
        )
    )
    if message is None:
        raise NotFound(f"no message to {destination} with that key")
    if message.remote_ref is None and remote_ref is not None:
        message.remote_ref = remote_ref
    _set_remote_status(message, status, now, detail)
    return message


def _set_remote_status(
    message: OutboxMessage, status: str, now: datetime, detail: dict[str, Any] | None
) -> None:
    if message.status != status:
        message.status = status
        message.remote_detail = detail
        message.status_changed_at = now


class MessageTable:
    """The `outbox_messages` table as the delivery engine reaches it (an OutboxTable)."""

    def claim(
        self,
        database: Database,
        destinations: Sequence[str],
        now: datetime,
        limit: int,
        claim_s: float,
        token: str,
    ) -> list[OutgoingMessage]:
        query = (
            select(OutboxMessage)
            .where(
                OutboxMessage.status == MessageStatus.QUEUED,
                OutboxMessage.next_attempt_at <= now,
                OutboxMessage.destination.in_(destinations),
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= now),
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        )
        # PostgreSQL: rows another sender holds are skipped, not waited for. SQLite: the unit of
        # work begins with BEGIN IMMEDIATE, so only one sender claims at a time.
        if database.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        with database.unit_of_work() as session:
            rows = list(session.scalars(query))
            claimed = []
            for row in rows:
                row.claimed_until = now + timedelta(seconds=claim_s)
                row.claim_token = token
                claimed.append(
                    OutgoingMessage(
                        id=row.id,
                        destination=row.destination,
                        kind=row.kind,
                        payload=dict(row.payload),
                        idempotency_key=row.idempotency_key,
                        attempt=row.attempts + 1,
                    )
                )
            return claimed

    def record(self, database: Database, tried: Sequence[Tried], now: datetime, token: str) -> None:
        with database.unit_of_work() as session:
            for one in tried:
                _record(session, one, now, token)


MESSAGES = MessageTable()


def _record(session: Session, tried: Tried, now: datetime, token: str) -> None:
    message = tried.message
    # Only the holder of the claim writes: a sender whose claim ran out (it stalled, another
    # sender took over) must not overwrite the newer outcome.
    held = (OutboxMessage.id == message.id, OutboxMessage.claim_token == token)
    released = {"claimed_until": None, "claim_token": None, "attempts": message.attempt}
    if tried.outcome is Outcome.DELIVERED:
        result = tried.result or SendResult()
        # The receiver may already have said more (forwarded, unfounded) through its own
        # message while this send was in flight: "delivered" must not overwrite that.
        session.execute(
            update(OutboxMessage)
            .where(*held, OutboxMessage.status == MessageStatus.QUEUED)
            .values(status=result.status, status_changed_at=now, remote_detail=result.detail)
            .execution_options(synchronize_session=False)
        )
        values: dict[str, Any] = {
            "delivered_at": now,
            "remote_ref": result.remote_ref,
            "last_error": None,
        }
    elif tried.outcome is Outcome.RETRYING:
        values = {"next_attempt_at": tried.next_attempt_at, "last_error": tried.error}
    else:
        values = {
            "status": MessageStatus.FAILED,
            "last_error": tried.error,
            "status_changed_at": now,
        }
    session.execute(
        update(OutboxMessage)
        .where(*held)
        .values(**released, **values)
        .execution_options(synchronize_session=False)
    )


def requeue(session: Session, message_id: int, now: datetime) -> OutboxMessage:
    """Send a failed message again (after a person fixed the cause), with a fresh attempt count."""
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound(f"no outbox message {message_id}")
    if message.status != MessageStatus.FAILED:
        raise InvalidInput(f"message {message_id} is {message.status}, not failed")
    message.status, message.attempts, message.next_attempt_at = MessageStatus.QUEUED, 0, now
    message.status_changed_at = now
    return message
