"""The operator hears of every flood, failed message, breached review SLA and overdue deadline:
each raises one alert, which resolves when its cause clears, and is sent to the operator's
webhook, signed, through the outbox."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from password_hashing import cheap_argon2  # noqa: F401  (fixture)
from tutela.audit.log import list_entries
from tutela.auth.users import create_user, get_user
from tutela.db import Database
from tutela.detection.models import Case, FloodAlert, Item, Webhook, WebhookDelivery
from tutela.enforcement.measure_models import TakedownRequest, UserNotice
from tutela.errors import Forbidden, TransientDeliveryError
from tutela.messaging.outbox import deliver_due, enqueue, requeue
from tutela.messaging.outbox_models import MessageStatus, OutboxMessage
from tutela.messaging.transports import OutgoingMessage, SendResult, Transport
from tutela.operations.alerts import (
    ALERT_DESTINATION,
    AlertKind,
    acknowledge_alert,
    list_alerts,
    open_alert_counts,
    raise_alerts,
)
from tutela.operations.operator_webhook import OperatorWebhook
from tutela.settings import Settings

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
SECRET = "operator-secret-0123456789"
HOOK = "https://ops.example/alerts"
pytestmark = pytest.mark.usefixtures("cheap_argon2")


class Unreachable(Transport):
    name = "centre"

    @classmethod
    def create(cls, context: object) -> Unreachable:
        raise NotImplementedError

    def send(self, message: OutgoingMessage) -> SendResult:
        raise TransientDeliveryError("POST /v1/reports failed: ConnectError")


def alerting(settings: Settings) -> Settings:
    return Settings(
        data_dir=settings.data_dir,
        database_url=settings.database_url,
        alert_webhook_url=HOOK,
        alert_webhook_secret=SECRET,
    )


def fail_a_report(database: Database) -> int:
    """A report to the centre that fails for good (the centre unreachable, 2 attempts at most)."""
    with database.unit_of_work() as session:
        message_id = enqueue(session, "centre", "report", {"case": 1}, "report-1", NOW).id
    deliver_due(database, {"centre": Unreachable()}, NOW, max_attempts=1)
    return message_id


def add_case(database: Database, created_at: datetime, *, urgent: bool = False) -> int:
    with database.unit_of_work() as session:
        item = Item(
            item_ref=f"item-{created_at.timestamp()}-{urgent}",
            status="done",
            verdict="review",
            meta={"extra": {"urgent": True}} if urgent else {},
            created_at=created_at,
        )
        session.add(item)
        session.flush()
        case = Case(item_id=item.id, status="open", priority=2, evidence=[], created_at=created_at)
        session.add(case)
        session.flush()
        return case.id


def open_kinds(database: Database) -> list[str]:
    with database.reader() as session:
        return sorted(alert.kind for alert in list_alerts(session, open_only=True))


def test_a_message_that_failed_for_good_raises_one_alert(
    database: Database, settings: Settings
) -> None:
    message_id = fail_a_report(database)
    first = raise_alerts(database, settings, NOW)
    again = raise_alerts(database, settings, NOW + timedelta(minutes=1))
    (alert,) = first.raised
    assert (alert.kind, alert.subject_type, alert.subject_id) == (
        AlertKind.OUTBOX_FAILED,
        "outbox_message",
        str(message_id),
    )
    assert "centre" in alert.summary and alert.details["error"] == "delivery_retry"
    assert again.raised == []


def test_the_alert_of_a_message_sent_again_resolves_and_opens_again_if_it_fails_again(
    database: Database, settings: Settings
) -> None:
    message_id = fail_a_report(database)
    raise_alerts(database, settings, NOW)
    with database.unit_of_work() as session:
        requeue(session, message_id, NOW)
    assert raise_alerts(database, settings, NOW).resolved == 1
    assert open_kinds(database) == []
    deliver_due(database, {"centre": Unreachable()}, NOW, max_attempts=1)
    (again,) = raise_alerts(database, settings, NOW + timedelta(minutes=5)).raised
    assert again.occurrences == 2 and again.open


def test_a_flood_raises_an_alert_until_its_review_only_period_ends(
    database: Database, settings: Settings
) -> None:
    with database.unit_of_work() as session:
        session.add(
            FloodAlert(
                indicator_id=7,
                bank_id=1,
                matches=101,
                window_s=3600,
                raised_at=NOW,
                review_only_until=NOW + timedelta(hours=1),
            )
        )
    (alert,) = raise_alerts(database, settings, NOW).raised
    assert alert.kind == AlertKind.FLOOD and "indicator 7" in alert.summary
    assert raise_alerts(database, settings, NOW + timedelta(hours=2)).resolved == 1


def test_failed_webhook_deliveries_raise_one_alert_per_endpoint(
    database: Database, settings: Settings
) -> None:
    with database.unit_of_work() as session:
        hook = Webhook(url="https://platform.example/hook", secret="s" * 20, active=True)
        session.add(hook)
        session.flush()
        for item in range(3):
            session.add(
                WebhookDelivery(webhook_id=hook.id, item_id=item, body="{}", state="failed")
            )
    (alert,) = raise_alerts(database, settings, NOW).raised
    assert alert.kind == AlertKind.WEBHOOK_FAILED and alert.details["count"] == 3


def test_cases_past_their_review_sla_raise_an_alert_per_priority(
    database: Database, settings: Settings
) -> None:
    # Defaults: urgent 1 h, "close" (priority 2) 24 h.
    add_case(database, NOW - timedelta(hours=2), urgent=True)
    add_case(database, NOW - timedelta(hours=25))
    add_case(database, NOW - timedelta(hours=23))
    raised = raise_alerts(database, settings, NOW).raised
    assert sorted((a.subject_id, a.details["count"]) for a in raised) == [
        ("close", 1),
        ("urgent", 1),
    ]
    assert {a.kind for a in raised} == {AlertKind.SLA_BREACH}


def test_an_acknowledged_sla_alert_opens_again_when_more_cases_breach(
    database: Database, settings: Settings
) -> None:
    add_case(database, NOW - timedelta(hours=25))
    (alert,) = raise_alerts(database, settings, NOW).raised
    create_user(database, "ada", "correct horse battery", ["administrator"], actor="test")
    acknowledge_alert(database, alert.id, get_user(database, "ada"), NOW)
    assert open_kinds(database) == []
    add_case(database, NOW - timedelta(hours=24, minutes=30))
    (again,) = raise_alerts(database, settings, NOW).raised
    assert again.id == alert.id and again.details["count"] == 2 and again.open


def test_a_takedown_unconfirmed_for_a_day_and_a_notice_held_past_its_end_are_overdue(
    database: Database, settings: Settings
) -> None:
    case_id = add_case(database, NOW - timedelta(days=3))
    with database.unit_of_work() as session:
        session.add(
            TakedownRequest(
                case_id=case_id,
                item_id=1,
                item_ref="x",
                state="requested",
                account_action="none",
                sends=5,
                requested_at=NOW - timedelta(hours=25),
            )
        )
        session.add(
            UserNotice(
                case_id=case_id,
                item_id=1,
                item_ref="x",
                kind="removal",
                state="held",
                hold_until=NOW - timedelta(hours=2),
            )
        )
    raised = raise_alerts(database, settings, NOW).raised
    overdue = sorted(a.subject_type for a in raised if a.kind == AlertKind.DEADLINE_OVERDUE)
    assert overdue == ["takedown_request", "user_notice"]


def test_only_an_administrator_acknowledges_and_it_is_audited(
    database: Database, settings: Settings
) -> None:
    fail_a_report(database)
    (alert,) = raise_alerts(database, settings, NOW).raised
    create_user(database, "rita", "correct horse battery", ["reviewer"], actor="test")
    create_user(database, "ada", "correct horse battery", ["administrator"], actor="test")
    with pytest.raises(Forbidden):
        acknowledge_alert(database, alert.id, get_user(database, "rita"), NOW)
    done = acknowledge_alert(database, alert.id, get_user(database, "ada"), NOW)
    assert done.acknowledged_by == "ada" and not done.open
    with database.reader() as session:
        (entry,) = list_entries(session, action="alert_acknowledge")
        assert open_alert_counts(session)[AlertKind.OUTBOX_FAILED] == 0
    assert entry.subject is not None and entry.subject.id == str(alert.id)


def test_an_alert_is_queued_for_the_operator_webhook_with_the_alert(
    database: Database, settings: Settings
) -> None:
    fail_a_report(database)
    (alert,) = raise_alerts(database, alerting(settings), NOW).raised
    with database.reader() as session:
        (message,) = [m for m in session.query(OutboxMessage) if m.destination == ALERT_DESTINATION]
    assert message.status == MessageStatus.QUEUED and message.kind == "alert.raised"
    assert message.payload["alert"]["id"] == alert.id


def test_no_webhook_is_queued_without_an_alert_webhook_url(
    database: Database, settings: Settings
) -> None:
    fail_a_report(database)
    raise_alerts(database, settings, NOW)
    with database.reader() as session:
        destinations = {m.destination for m in session.query(OutboxMessage)}
    assert destinations == {"centre"}


def test_the_operator_webhook_posts_the_alert_signed_and_retries_until_taken(
    database: Database, settings: Settings
) -> None:
    fail_a_report(database)
    raise_alerts(database, alerting(settings), NOW)
    received: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(503 if len(received) == 1 else 204)

    client = httpx.Client(transport=httpx.MockTransport(answer))
    webhook = OperatorWebhook.from_settings(alerting(settings), client)
    assert webhook is not None
    transports = {ALERT_DESTINATION: webhook}
    assert deliver_due(database, transports, NOW, rng=lambda: 1.0).retrying
    assert deliver_due(database, transports, NOW + timedelta(minutes=1)).delivered
    first, second = received
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    timestamp = second.headers["X-Tutela-Timestamp"]
    expected = hmac.new(
        SECRET.encode(), timestamp.encode() + b"." + second.content, hashlib.sha256
    ).hexdigest()
    assert second.headers["X-Tutela-Signature"] == "sha256=" + expected
    body = json.loads(second.content)
    assert body["event"] == "alert.raised" and body["alert"]["kind"] == "outbox_failed"


def test_a_failing_alert_webhook_raises_an_alert_but_sends_no_webhook_about_itself(
    database: Database, settings: Settings
) -> None:
    fail_a_report(database)
    raise_alerts(database, alerting(settings), NOW)

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404)

    webhook = OperatorWebhook.from_settings(
        alerting(settings), httpx.Client(transport=httpx.MockTransport(refuse))
    )
    assert webhook is not None
    assert deliver_due(database, {ALERT_DESTINATION: webhook}, NOW).failed
    raised = raise_alerts(database, alerting(settings), NOW).raised
    assert [a.details["destination"] for a in raised] == [ALERT_DESTINATION]
    with database.reader() as session:
        queued = [m for m in session.query(OutboxMessage) if m.status == MessageStatus.QUEUED]
        failed = [m for m in session.query(OutboxMessage) if m.status == MessageStatus.FAILED]
    assert queued == [] and len(failed) == 2
