"""The outbox engine: claim what is due, try each message on its transport, and record where
each try leaves it: delivered, retried after a backoff (tutela.messaging.retry), or dead after
its last attempt (logged and raised as an alert). Delivery is at least once (DESIGN rule 4):
receivers de-duplicate on the idempotency key that travels with every try.

The engine knows no table: each outbox table (the messages to other nodes, the platforms'
webhook deliveries) is reached through an `OutboxTable` adapter that claims rows and records
tries, so that every outbox shares one claim/attempt/backoff/dead-letter rule."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from tutela.db.database import Database
from tutela.errors import DeliveryError, TutelaError
from tutela.messaging.retry import Answer, RetryPolicy, Verdict, answer_of
from tutela.messaging.transports import OutgoingMessage, SendResult, Transport

log = logging.getLogger("tutela.outbox")


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRYING = "retrying"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Tried:
    """One try and where it leaves its message. `error` is a machine code or exception class,
    `reason` one line naming the answer's status or the failure; neither ever holds a body."""

    message: OutgoingMessage
    outcome: Outcome
    next_attempt_at: datetime
    result: SendResult | None = None
    status_code: int | None = None
    error: str | None = None
    reason: str | None = None


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

    @property
    def tried(self) -> int:
        return len(self.delivered) + len(self.retrying) + len(self.failed)


Alert = Callable[[FailedMessage], None]


class OutboxTable(Protocol):
    """One outbox table as the engine sees it."""

    def claim(
        self,
        database: Database,
        destinations: Sequence[str],
        now: datetime,
        limit: int,
        claim_s: float,
        token: str,
    ) -> list[OutgoingMessage]:
        """Up to `limit` messages due at `now` for `destinations`, each made invisible to other
        senders for `claim_s` (a sender that dies mid-send loses nothing: the claim runs out)."""
        ...

    def record(self, database: Database, tried: Sequence[Tried], now: datetime, token: str) -> None:
        """Store the tries (in one transaction); only rows still claimed under `token` change."""
        ...


def deliver_due(
    database: Database,
    table: OutboxTable,
    transports: Mapping[str, Transport],
    now: datetime,
    policy: RetryPolicy,
    *,
    limit: int,
    claim_s: float,
    alert: Alert | None = None,
    pool: Executor | None = None,
    together: bool = False,
) -> DeliveryRun:
    """Send up to `limit` due messages whose destination has a transport here. They are sent
    one after the other, each recorded as soon as it is tried; or, with `pool`, concurrently on
    its threads, and then (as with `together`) all recorded in one transaction."""
    token = str(uuid.uuid4())
    claimed = table.claim(database, list(transports), now, limit, claim_s, token)
    run = DeliveryRun()

    def attempt(message: OutgoingMessage) -> Tried:
        return _try(transports[message.destination], message, now, policy)

    if pool is None and not together:
        for message in claimed:
            tried = attempt(message)
            table.record(database, [tried], now, token)
            _count(run, tried, alert)
        return run
    everything = list(pool.map(attempt, claimed) if pool is not None else map(attempt, claimed))
    if everything:
        table.record(database, everything, now, token)
    for tried in everything:
        _count(run, tried, alert)
    return run


def _try(
    transport: Transport, message: OutgoingMessage, now: datetime, policy: RetryPolicy
) -> Tried:
    try:
        result = transport.send(message)
    except DeliveryError as error:
        answer = answer_of(error)
        reason = error.message
    except TutelaError as error:  # e.g. configuration missing: worth another try later
        answer = Answer(Verdict.RETRY, None, error.code)
        reason = error.message
    except Exception as error:  # a defect in a transport must not lose the message
        log.exception("transport %s failed on message %s", message.destination, message.id)
        answer = Answer(Verdict.RETRY, None, type(error).__name__)
        reason = type(error).__name__
    else:
        return Tried(message, Outcome.DELIVERED, now, result, result.status_code)
    if answer.verdict is Verdict.PERMANENT or policy.gives_up(message.attempt):
        outcome = Outcome.FAILED
        retry_at = now
    else:
        outcome = Outcome.RETRYING
        wait = policy.backoff_s(message.attempt, answer.retry_after_s)
        retry_at = now + timedelta(seconds=wait)
    return Tried(message, outcome, retry_at, None, answer.status_code, answer.error, reason)


def _count(run: DeliveryRun, tried: Tried, alert: Alert | None) -> None:
    message = tried.message
    if tried.outcome is Outcome.DELIVERED:
        run.delivered.append(message.id)
    elif tried.outcome is Outcome.RETRYING:
        run.retrying.append(message.id)
    else:
        failed = FailedMessage(
            message.id,
            message.destination,
            message.kind,
            message.attempt,
            tried.error or "unknown",
        )
        run.failed.append(failed)
        log.error(
            "outbox message %s to %s failed for good after %s attempts: %s",
            failed.id,
            failed.destination,
            failed.attempts,
            failed.error,
        )
        if alert is not None:
            alert(failed)
