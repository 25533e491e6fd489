"""Failed platform webhook deliveries seen and sent again: a receiver answering 404 fails a
delivery after one try; an administrator puts it back (command line or console, audited); the
fixed receiver then takes it once, with the same Idempotency-Key. The alert of the failure, and
the failed deliveries by platform on /metrics."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
from sqlalchemy import select

from password_hashing import cheap_argon2  # noqa: F401  (fixture)
from provider_fixtures import decide_signals
from tutela.audit.log import list_entries, user_actor
from tutela.auth.api_keys import create_api_key
from tutela.auth.csrf import issue_csrf_token
from tutela.auth.sessions import log_in
from tutela.auth.users import create_user, get_user
from tutela.cli import main
from tutela.clock import utc_now
from tutela.db import Database, open_database
from tutela.detection.deliveries import deliver_due
from tutela.detection.models import DeliveryAttempt, Webhook, WebhookDelivery
from tutela.detection.webhooks import delete_webhook, register_webhook
from tutela.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from tutela.nodes.provider import create_app
from tutela.operations.alerts import AlertKind, list_alerts, raise_alerts
from tutela.operations.webhook_deliveries import (
    REQUEUE_ACTION,
    Selection,
    failed_by_platform,
    list_deliveries,
    parse_since,
    requeue_by_account,
)
from tutela.settings import Settings
from tutela.ui.access import SESSION_COOKIE

SECRET = "a-webhook-secret-of-some-length"
MD5 = "5d41402abc4b2a76b9719d911017c592"
PASSWORD = "correct horse battery"
NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


@dataclass
class Receiver:
    """A platform's endpoint: answers `status` and notes each request's Idempotency-Key."""

    url: str = ""
    status: int = 404
    keys: list[str] = field(default_factory=list)
    taken: list[str] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            key = self.headers["Idempotency-Key"]
            state.keys.append(key)
            if 200 <= state.status < 300 and key not in state.taken:
                state.taken.append(key)  # what a de-duplicating platform acts on
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/hook"
    yield state
    server.shutdown()
    server.server_close()


def send(database: Database, now: datetime) -> int:
    with httpx.Client() as client:
        return deliver_due(database, client, now=now)


def the_delivery(database: Database) -> WebhookDelivery:
    with database.reader() as session:
        return session.scalars(select(WebhookDelivery)).one()


def failed_verdict(database: Database, receiver: Receiver) -> int:
    """One verdict whose delivery the receiver refused with 404 just now; the delivery's id."""
    register_webhook(database, receiver.url, SECRET)
    decide_signals(database, [{"md5": MD5}])
    assert send(database, utc_now()) == 1
    return the_delivery(database).id


def administrator(database: Database, name: str = "ada") -> int:
    return create_user(database, name, PASSWORD, ["administrator"], actor="test").id


def requeue_entries(database: Database) -> list[dict[str, object]]:
    with database.reader() as session:
        entries = list_entries(session, action=REQUEUE_ACTION)
    return [{"actor": e.actor, "subject": e.subject, **e.details} for e in entries]


@pytest.mark.usefixtures("cheap_argon2")
def test_a_404_fails_at_once_and_requeued_it_is_delivered_once_with_the_same_key(
    database: Database, settings: Settings, receiver: Receiver
) -> None:
    delivery_id = failed_verdict(database, receiver)
    start = utc_now()
    failed = the_delivery(database)
    assert (failed.state, failed.attempts) == ("failed", 1)
    with database.reader() as session:
        (view,) = list_deliveries(session, state="failed")
    assert (view.id, view.event, view.last_status_code) == (delivery_id, "item.verdict", 404)
    assert view.last_error == "endpoint answered 404"
    assert MD5 not in json.dumps(view.as_dict())  # the body never shows

    # Failed for good: an alert naming the platform and the way back, the metric by platform.
    (alert,) = raise_alerts(database, settings, start + timedelta(seconds=30)).raised
    assert alert.kind == AlertKind.WEBHOOK_FAILED
    assert alert.details["platform"] == "default" and "tutela webhooks requeue" in alert.summary
    with database.reader() as session:
        assert failed_by_platform(session) == {"default": 1}

    ada = administrator(database)
    receiver.status = 200
    later = start + timedelta(hours=1)
    requeued = requeue_by_account(database, "ada", Selection(ids=(delivery_id,)), later)
    assert requeued.ids == [delivery_id] and requeued.by_platform == {"default": 1}
    pending = the_delivery(database)
    assert (pending.state, pending.attempts, pending.next_attempt_at) == ("pending", 0, later)

    assert send(database, later) == 1
    assert send(database, later + timedelta(hours=1)) == 0  # nothing left to send
    delivered = the_delivery(database)
    assert (delivered.state, delivered.attempts) == ("delivered", 1)
    assert receiver.keys == [f"webhook-delivery-{delivery_id}"] * 2
    assert receiver.taken == [f"webhook-delivery-{delivery_id}"]
    with database.reader() as session:
        codes = session.scalars(
            select(DeliveryAttempt.status_code).order_by(DeliveryAttempt.id)
        ).all()
    assert codes == [404, 200]  # the history of tries is kept

    (entry,) = requeue_entries(database)
    assert entry["actor"] == user_actor(ada)
    assert entry["count"] == 1 and entry["deliveries"] == str(delivery_id)
    assert entry["failed_with"] == {"endpoint answered 404": 1}
    assert raise_alerts(database, settings, later + timedelta(minutes=1)).resolved == 1
    with database.reader() as session:
        assert list_alerts(session, open_only=True) == []
        assert failed_by_platform(session) == {}


def test_only_an_active_administrator_account_sends_again(
    database: Database, receiver: Receiver
) -> None:
    delivery_id = failed_verdict(database, receiver)
    create_user(database, "rita", PASSWORD, ["reviewer"], actor="test")
    selection = Selection(ids=(delivery_id,))
    with pytest.raises(Forbidden):
        requeue_by_account(database, "rita", selection, NOW)
    with pytest.raises(Unauthorized):
        requeue_by_account(database, "nobody", selection, NOW)
    assert the_delivery(database).state == "failed"
    assert requeue_entries(database) == []


def test_only_failed_deliveries_to_live_endpoints_are_sent_again(
    database: Database, receiver: Receiver
) -> None:
    delivery_id = failed_verdict(database, receiver)
    administrator(database)
    with pytest.raises(NotFound):
        requeue_by_account(database, "ada", Selection(ids=(delivery_id + 1,)), NOW)
    with pytest.raises(InvalidInput):  # neither ids nor --all-failed
        requeue_by_account(database, "ada", Selection(), NOW)
    with pytest.raises(InvalidInput):  # filters narrow --all-failed only
        requeue_by_account(database, "ada", Selection(ids=(delivery_id,), platform="x"), NOW)
    requeue_by_account(database, "ada", Selection(ids=(delivery_id,)), NOW)
    with pytest.raises(Conflict, match="is pending"):
        requeue_by_account(database, "ada", Selection(ids=(delivery_id,)), NOW)

    receiver.status = 410
    assert send(database, utc_now()) == 1
    delete_webhook(database, the_delivery(database).webhook_id)
    with pytest.raises(Conflict, match="endpoint was deleted"):
        requeue_by_account(database, "ada", Selection(ids=(delivery_id,)), NOW)
    assert requeue_by_account(database, "ada", Selection(all_failed=True), NOW).ids == []


def add_failed(database: Database, platform: str, failed_at: datetime) -> int:
    with database.unit_of_work() as session:
        hook = session.scalar(select(Webhook).where(Webhook.platform == platform))
        if hook is None:
            hook = Webhook(platform=platform, url="https://platform.example/hook", secret=SECRET)
            session.add(hook)
            session.flush()
        row = WebhookDelivery(
            platform=platform, webhook_id=hook.id, item_id=1, body="{}", state="failed"
        )
        session.add(row)
        session.flush()
        session.add(DeliveryAttempt(delivery_id=row.id, status_code=400, at=failed_at))
        return row.id


def test_all_failed_narrowed_by_platform_and_time(database: Database) -> None:
    administrator(database)
    old_a = add_failed(database, "alpha", NOW - timedelta(hours=3))
    new_a = add_failed(database, "alpha", NOW - timedelta(minutes=30))
    new_b = add_failed(database, "beta", NOW - timedelta(minutes=10))
    since = parse_since("1h", NOW)
    selection = Selection(all_failed=True, platform="alpha", since=since)
    assert requeue_by_account(database, "ada", selection, NOW).ids == [new_a]
    with database.reader() as session:
        assert failed_by_platform(session) == {"alpha": 1, "beta": 1}
        states = dict(session.execute(select(WebhookDelivery.id, WebhookDelivery.state)).all())
    assert states == {old_a: "failed", new_a: "pending", new_b: "failed"}
    (entry,) = requeue_entries(database)
    assert entry["selection"] == {
        "all_failed": True,
        "platform": "alpha",
        "webhook_id": None,
        "since": since.isoformat(),
    }
    assert entry["failed_with"] == {"answered 400": 1}
    assert requeue_by_account(database, "ada", Selection(all_failed=True), NOW).ids == [
        old_a,
        new_b,
    ]
    assert len(requeue_entries(database)) == 3  # one per endpoint (alpha's, beta's) of that run


def test_since_is_iso_8601_with_a_zone_or_a_span() -> None:
    assert parse_since("2025-06-02T08:00:00Z", NOW) == NOW - timedelta(hours=1)
    assert parse_since("2025-06-02T10:00:00+02:00", NOW) == NOW - timedelta(hours=1)
    assert parse_since("90m", NOW) == NOW - timedelta(minutes=90)
    assert parse_since("1d", NOW) == NOW - timedelta(days=1)
    for bad in ("2025-06-02T08:00:00", "yesterday", "-2h", ""):
        with pytest.raises(InvalidInput):
            parse_since(bad, NOW)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def test_the_commands_list_and_send_again(
    cli_env: Settings, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    database = open_database(cli_env)
    try:
        delivery_id = failed_verdict(database, receiver)
        create_user(database, "rita", PASSWORD, ["reviewer"], actor="test")
        ada = administrator(database)
    finally:
        database.close()
    code, out, _ = run(capsys, "webhooks", "deliveries", "--failed", "--json")
    listed = json.loads(out)
    assert code == 0 and listed["id"] == delivery_id and listed["state"] == "failed"
    assert listed["last_error"] == "endpoint answered 404" and "body" not in listed
    code, out, _ = run(capsys, "webhooks", "deliveries", "--platform", "default")
    assert code == 0 and "endpoint answered 404" in out and MD5 not in out

    code, _, err = run(capsys, "webhooks", "requeue", "--all-failed", "--by", "rita")
    assert code != 0 and "manage_settings" in err
    code, _, err = run(capsys, "webhooks", "requeue", "--all-failed", "--by", "ghost")
    assert code != 0 and "ghost" in err
    code, out, _ = run(
        capsys, "webhooks", "requeue", "--all-failed", "--since", "2h", "--by", "ada"
    )
    assert code == 0 and out == "1 deliveries queued again (default 1)\n"
    code, out, _ = run(capsys, "webhooks", "requeue", str(delivery_id), "--by", "ada", "--json")
    assert code != 0
    database = open_database(cli_env)
    try:
        assert the_delivery(database).state == "pending"
        (entry,) = requeue_entries(database)
        assert entry["actor"] == user_actor(ada) and str(entry["via"]).startswith("cli")
    finally:
        database.close()


async def console(
    database: Database, settings: Settings, *requests: tuple[str, str, str, bool]
) -> list[httpx.Response]:
    """(method, path, session token, with the CSRF token) through the provider's app."""
    app = create_app(settings, database=database)
    transport = httpx.ASGITransport(app=app)
    answers = []
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="https://testserver") as client,
    ):
        for method, path, token, csrf in requests:
            client.cookies.clear()
            client.cookies.update({SESSION_COOKIE: token})
            headers = {"x-csrf-token": issue_csrf_token(token)} if csrf else {}
            answers.append(await client.request(method, path, headers=headers))
    return answers


@pytest.mark.usefixtures("cheap_argon2")
def test_an_administrator_sends_an_endpoints_failed_deliveries_again_from_the_console(
    database: Database, settings: Settings, receiver: Receiver
) -> None:
    failed_verdict(database, receiver)
    hook = the_delivery(database).webhook_id
    administrator(database)
    create_user(database, "rita", PASSWORD, ["reviewer"], actor="test")
    ada = log_in(database, "ada", PASSWORD, "192.0.2.1").token
    rita = log_in(database, "rita", PASSWORD, "192.0.2.2").token
    requeue = f"/ui/webhooks/{hook}/requeue"
    page, forged, refused, sent, after = asyncio.run(
        console(
            database,
            settings,
            ("GET", "/ui/alerts", ada, False),
            ("POST", requeue, ada, False),  # no CSRF token
            ("POST", requeue, rita, True),  # not an administrator
            ("POST", requeue, ada, True),
            ("GET", "/ui/alerts", ada, False),
        )
    )
    assert page.status_code == 200 and "Failed webhook deliveries" in page.text
    assert "Send again" in page.text and "endpoint answered 404" in page.text
    assert forged.status_code == 403 and refused.status_code == 403
    assert sent.status_code == 303 and sent.headers["location"] == "/ui/alerts"
    assert "Send again" not in after.text
    assert the_delivery(database).state == "pending"
    (entry,) = requeue_entries(database)
    assert entry["actor"] == user_actor(get_user(database, "ada").id)
    assert entry["via"] == "console" and entry["selection"]["webhook_id"] == hook  # type: ignore[index]


def test_metrics_count_failed_deliveries_by_platform(
    database: Database, settings: Settings
) -> None:
    add_failed(database, "alpha", NOW)
    add_failed(database, "alpha", NOW)
    add_failed(database, "beta", NOW)
    _, key = create_api_key(database, "scraper", ["metrics"])

    async def scrape() -> httpx.Response:
        app = create_app(settings, database=database)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="https://testserver") as client,
        ):
            return await client.get("/metrics", headers={"Authorization": f"Bearer {key}"})

    text = asyncio.run(scrape()).text
    assert 'tutela_failed_webhook_deliveries{platform="alpha"} 2.0' in text
    assert 'tutela_failed_webhook_deliveries{platform="beta"} 1.0' in text
