"""The transactional outbox: messages to other nodes are written in the transaction of the
decision that causes them, then delivered at least once (DESIGN rule 4); receivers de-duplicate
on the idempotency key that travels with every try."""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from tutela.db.database import Database
from tutela.errors import InvalidInput, NotFound, PermanentDeliveryError, TutelaError
from tutela.reporting.outbox_models import OutboxMessage
from tutela.reporting.transports.base import OutgoingMessage, ReportTransport, SendResult

log = logging.getLogger("tutela.outbox")

QUEUED = "queued"
DELIVERED = "delivered"
ACKNOWLEDGED = "acknowledged"
UNFOUNDED = "unfounded"
FORWARDED = "forwarded"
INFORMATION_REQUESTED = "information_requested"
FAILED = "failed"
# What a receiver may later say about a message it took (Art 48(2)-(3), Art 45).
REMOTE_STATUSES = frozenset({ACKNOWLEDGED, UNFOUNDED, FORWARDED, INFORMATION_REQUESTED})

MAX_ATTEMPTS = 12
BASE_BACKOFF_S = 5.0
MAX_BACKOFF_S = 6 * 3600.0
# How long a claimed message stays invisible to other senders; longer than any one send.
CLAIM_S = 300.0


@dataclass(frozen=True, slots=True)
class FailedMessage:
    id: int
    destination: str
    kind: str
    attempts: int
    error: str


@dataclass
class DeliveryRun:
    delivered: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[FailedMessage] = field(default_factory=list)


Alert = Callable[[FailedMessage], None]


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
        status=QUEUED,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        status_changed_at=now,
    )
    session.add(message)
    session.flush()
    return message


def backoff_s(
    attempts: int, rng: Callable[[], float] = random.random, base_s: float = BASE_BACKOFF_S
) -> float:
    """Exponential backoff with jitter: the wait after the `attempts`-th failure lies between
    half and all of base·2^(attempts-1), capped, so that many senders do not retry in step."""
    ceiling = min(MAX_BACKOFF_S, base_s * 2 ** max(0, attempts - 1))
    return float(ceiling * (0.5 + 0.5 * rng()))


def deliver_due(
    database: Database,
    transports: Mapping[str, ReportTransport],
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
    retry = partial(_retry, max_attempts=max_attempts, rng=rng, base_s=backoff_base_s)
    run = DeliveryRun()
    token = str(uuid.uuid4())
    for message in _claim(database, list(transports), now, limit, claim_s, token):
        transport = transports[message.destination]
        try:
            result = transport.send(message)
        except PermanentDeliveryError as error:
            failed = _fail(database, message, token, now, error.code)
            run.failed.append(failed)
            _raise_alert(failed, alert)
            continue
        except TutelaError as error:
            outcome = retry(database, message, token, now, error.code)
        except Exception as error:  # a defect in a transport must not lose the message
            log.exception(
                "report transport %s failed on message %s", message.destination, message.id
            )
            outcome = retry(database, message, token, now, type(error).__name__)
        else:
            _mark_sent(database, message, token, now, result)
            run.delivered.append(message.id)
            continue
        if isinstance(outcome, FailedMessage):
            run.failed.append(outcome)
            _raise_alert(outcome, alert)
        else:
            run.retrying.append(message.id)
    return run


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


def _claim(
    database: Database,
    destinations: list[str],
    now: datetime,
    limit: int,
    claim_s: float,
    token: str,
) -> list[OutgoingMessage]:
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.status == QUEUED,
            OutboxMessage.next_attempt_at <= now,
            OutboxMessage.destination.in_(destinations),
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= now),
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    # PostgreSQL: rows another sender holds are skipped, not waited for. SQLite: the unit of work
    # begins with BEGIN IMMEDIATE, so only one sender claims at a time.
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


def _mark_sent(
    database: Database, message: OutgoingMessage, token: str, now: datetime, result: SendResult
) -> None:
    with database.unit_of_work() as session:
        held = (OutboxMessage.id == message.id, OutboxMessage.claim_token == token)
        # The receiver may already have said more (forwarded, unfounded) through its own
        # message while this send was in flight: "delivered" must not overwrite that.
        session.execute(
            update(OutboxMessage)
            .where(*held, OutboxMessage.status == QUEUED)
            .values(status=result.status, status_changed_at=now, remote_detail=result.detail)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(OutboxMessage)
            .where(*held)
            .values(
                claimed_until=None,
                claim_token=None,
                attempts=message.attempt,
                delivered_at=now,
                remote_ref=result.remote_ref,
                last_error=None,
            )
            .execution_options(synchronize_session=False)
        )


def _retry(
    database: Database,
    message: OutgoingMessage,
    token: str,
    now: datetime,
    error: str,
    *,
    max_attempts: int,
    rng: Callable[[], float],
    base_s: float,
) -> FailedMessage | None:
    if message.attempt >= max_attempts:
        return _fail(database, message, token, now, error)
    wait = timedelta(seconds=backoff_s(message.attempt, rng, base_s))
    _update(
        database,
        message,
        token,
        attempts=message.attempt,
        next_attempt_at=now + wait,
        last_error=error,
    )
    return None


def _fail(
    database: Database, message: OutgoingMessage, token: str, now: datetime, error: str
) -> FailedMessage:
    _update(
        database,
        message,
        token,
        status=FAILED,
        attempts=message.attempt,
        last_error=error,
        status_changed_at=now,
    )
    return FailedMessage(message.id, message.destination, message.kind, message.attempt, error)


def _update(database: Database, message: OutgoingMessage, token: str, **values: Any) -> None:
    # Only the holder of the claim writes: a sender whose claim ran out (it stalled, another
    # sender took over) must not overwrite the newer outcome.
    with database.unit_of_work() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id, OutboxMessage.claim_token == token)
            .values(claimed_until=None, claim_token=None, **values)
            .execution_options(synchronize_session=False)
        )


def _raise_alert(failed: FailedMessage, alert: Alert | None) -> None:
    log.error(
        "outbox message %s to %s failed for good after %s attempts: %s",
        failed.id,
        failed.destination,
        failed.attempts,
        failed.error,
    )
    if alert is not None:
        alert(failed)


def requeue(session: Session, message_id: int, now: datetime) -> OutboxMessage:
    """Send a failed message again (after a person fixed the cause), with a fresh attempt count."""
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound(f"no outbox message {message_id}")
    if message.status != FAILED:
        raise InvalidInput(f"message {message_id} is {message.status}, not failed")
    message.status, message.attempts, message.next_attempt_at = QUEUED, 0, now
    message.status_changed_at = now
    return message
