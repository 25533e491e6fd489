"""The outbox delivers every message at least once, and a de-duplicating receiver sees it once."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

import pytest
from sqlalchemy import select

from report_samples import NOW
from tutela.db import Database
from tutela.errors import PermanentDeliveryError, TransientDeliveryError
from tutela.messaging.outbox import FailedMessage, deliver_due, enqueue, record_remote_status
from tutela.messaging.outbox_models import MessageStatus, OutboxMessage
from tutela.messaging.transports import (
    OutgoingMessage,
    SendResult,
    Transport,
    TransportContext,
)


class SimulatedCrash(BaseException):
    """The sender process dying: not an Exception, so nothing in the sender catches it."""


class Receiver:
    """A receiving node that de-duplicates on the idempotency key, as the centre does."""

    def __init__(self) -> None:
        self.posts = 0
        self.stored: dict[str, dict[str, object]] = {}

    def receive(self, message: OutgoingMessage) -> str:
        self.posts += 1
        self.stored.setdefault(message.idempotency_key, message.payload)
        return f"r-{list(self.stored).index(message.idempotency_key)}"


class FakeTransport(Transport):
    name: ClassVar[str] = "fake"

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.crash_after_send = False
        self.failure: Exception | None = None

    @classmethod
    def create(cls, context: TransportContext) -> FakeTransport:
        raise NotImplementedError

    def send(self, message: OutgoingMessage) -> SendResult:
        if self.failure is not None:
            raise self.failure
        ref = self.receiver.receive(message)
        if self.crash_after_send:
            self.crash_after_send = False
            raise SimulatedCrash
        return SendResult(status=MessageStatus.ACKNOWLEDGED, remote_ref=ref)


def queue_one(database: Database, key: str = "report-1") -> int:
    with database.unit_of_work() as session:
        return enqueue(session, "fake", "report", {"hashes": ["abc"]}, key, NOW).id


def status_of(database: Database, message_id: int) -> OutboxMessage:
    with database.reader() as session:
        return session.get_one(OutboxMessage, message_id)


def test_enqueue_is_idempotent_per_destination_and_key(database: Database) -> None:
    assert queue_one(database) == queue_one(database)
    with database.reader() as session:
        assert len(session.scalars(select(OutboxMessage)).all()) == 1


def test_message_queued_in_a_rolled_back_decision_is_not_sent(database: Database) -> None:
    with pytest.raises(RuntimeError), database.unit_of_work() as session:
        enqueue(session, "fake", "report", {}, "report-1", NOW)
        raise RuntimeError("the decision failed")
    receiver = Receiver()
    assert deliver_due(database, {"fake": FakeTransport(receiver)}, NOW).delivered == []


def test_crash_between_send_and_mark_resends_once_and_receiver_deduplicates(
    database: Database,
) -> None:
    message_id = queue_one(database)
    receiver = Receiver()
    transport = FakeTransport(receiver)
    transport.crash_after_send = True
    with pytest.raises(SimulatedCrash):
        deliver_due(database, {"fake": transport}, NOW, claim_s=60)
    assert status_of(database, message_id).status == MessageStatus.QUEUED
    # While the dead sender's claim lasts, no one sends the message again.
    assert deliver_due(database, {"fake": transport}, NOW + timedelta(seconds=30)).delivered == []
    later = NOW + timedelta(seconds=61)
    assert deliver_due(database, {"fake": transport}, later).delivered == [message_id]
    assert deliver_due(database, {"fake": transport}, later + timedelta(hours=1)).delivered == []
    assert receiver.posts == 2
    assert len(receiver.stored) == 1
    message = status_of(database, message_id)
    assert (message.status, message.remote_ref, message.attempts) == (
        MessageStatus.ACKNOWLEDGED,
        "r-0",
        1,
    )


def test_transient_failure_retries_after_a_jittered_backoff(database: Database) -> None:
    message_id = queue_one(database)
    transport = FakeTransport(Receiver())
    transport.failure = TransientDeliveryError("POST /v1/reports answered 503")
    run = deliver_due(database, {"fake": transport}, NOW, rng=lambda: 1.0)
    assert run.retrying == [message_id]
    message = status_of(database, message_id)
    assert message.next_attempt_at == NOW + timedelta(seconds=5)
    assert message.last_error == "delivery_retry"
    transport.failure = None
    assert deliver_due(database, {"fake": transport}, NOW + timedelta(seconds=4)).delivered == []
    assert deliver_due(database, {"fake": transport}, NOW + timedelta(seconds=5)).delivered == [
        message_id
    ]


def test_a_receivers_retry_after_pushes_the_next_try_out(database: Database) -> None:
    message_id = queue_one(database)
    transport = FakeTransport(Receiver())
    transport.failure = TransientDeliveryError(
        "POST /v1/reports answered 429", status_code=429, retry_after_s=600.0
    )
    deliver_due(database, {"fake": transport}, NOW, rng=lambda: 1.0)
    assert status_of(database, message_id).next_attempt_at == NOW + timedelta(seconds=600)


def test_message_fails_for_good_after_max_attempts_and_raises_an_alert(
    database: Database,
) -> None:
    message_id = queue_one(database)
    transport = FakeTransport(Receiver())
    transport.failure = TransientDeliveryError("timeout")
    alerts: list[FailedMessage] = []
    now = NOW
    for _ in range(3):
        deliver_due(database, {"fake": transport}, now, max_attempts=3, alert=alerts.append)
        now += timedelta(days=1)
    assert status_of(database, message_id).status == MessageStatus.FAILED
    assert [(a.id, a.attempts) for a in alerts] == [(message_id, 3)]


def test_permanent_refusal_fails_at_once(database: Database) -> None:
    message_id = queue_one(database)
    transport = FakeTransport(Receiver())
    transport.failure = PermanentDeliveryError("POST /v1/reports answered 422")
    run = deliver_due(database, {"fake": transport}, NOW)
    assert [f.id for f in run.failed] == [message_id]
    assert status_of(database, message_id).status == MessageStatus.FAILED


def test_receiver_verdict_is_recorded_on_the_message(database: Database) -> None:
    message_id = queue_one(database)
    deliver_due(database, {"fake": FakeTransport(Receiver())}, NOW)
    with database.unit_of_work() as session:
        record_remote_status(
            session, "fake", "r-0", MessageStatus.UNFOUNDED, NOW, {"reasons": "placeholder"}
        )
    message = status_of(database, message_id)
    assert (message.status, message.remote_detail) == (
        MessageStatus.UNFOUNDED,
        {"reasons": "placeholder"},
    )
