"""Webhook delivery to a real local endpoint: signed bodies, retries with exponential backoff
after failures, every attempt listed by the API, and an endpoint that never answers given up."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import select

from provider_fixtures import decide_signals, in_process_client
from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.detection.deliveries import (
    CLAIM_S,
    CONCURRENCY,
    DELIVERIES,
    DESTINATION,
    MAX_ATTEMPTS,
    claim_limit,
    deliver_due,
)
from tutela.detection.models import DeliveryAttempt, WebhookDelivery
from tutela.detection.webhooks import delete_webhook, register_webhook
from tutela.detection.worker import WebhookSender
from tutela.errors import ConfigurationError
from tutela.settings import Settings

SECRET = "a-webhook-secret-of-some-length"
MD5 = "5d41402abc4b2a76b9719d911017c592"


@dataclass
class Endpoint:
    """What the local endpoint answers, in turn (the last answer repeats), and what it saw."""

    url: str = ""
    answers: list[int] = field(default_factory=lambda: [204])
    signed: list[bool] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    retry_after: str | None = None


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    state = Endpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            stamp = self.headers["X-Tutela-Timestamp"].encode()
            mac = hmac.new(SECRET.encode(), stamp + b"." + body, hashlib.sha256).hexdigest()
            state.signed.append(self.headers["X-Tutela-Signature"] == "sha256=" + mac)
            state.keys.append(self.headers["Idempotency-Key"])
            status = state.answers.pop(0) if len(state.answers) > 1 else state.answers[0]
            self.send_response(status)
            if state.retry_after is not None:
                self.send_header("Retry-After", state.retry_after)
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


def one_verdict_to_deliver(database: Database, endpoint: Endpoint) -> int:
    hook, _ = register_webhook(database, endpoint.url, SECRET)
    decide_signals(database, [{"md5": MD5}])
    return hook.id


def delivery(database: Database) -> WebhookDelivery:
    with database.reader() as session:
        return session.scalars(select(WebhookDelivery)).one()


def deliver_at(database: Database, now: datetime, max_attempts: int = MAX_ATTEMPTS) -> int:
    with httpx.Client() as client:
        return deliver_due(database, client, now=now, max_attempts=max_attempts)


async def api_get(settings: Settings, database: Database, path: str) -> httpx.Response:
    """GET through the app in process, its lifespan run as a server would."""
    async with in_process_client(settings, database) as client:
        return await client.get(path)


def test_delivery_is_signed_with_the_endpoint_secret(
    database: Database, endpoint: Endpoint
) -> None:
    one_verdict_to_deliver(database, endpoint)
    assert deliver_at(database, utc_now()) == 1
    assert endpoint.signed == [True]
    assert delivery(database).state == "delivered"


def test_failed_delivery_is_retried_with_jittered_exponential_backoff(
    database: Database, endpoint: Endpoint
) -> None:
    endpoint.answers = [500, 500, 500, 204]
    one_verdict_to_deliver(database, endpoint)
    now = utc_now()
    for ceiling_s in (1, 2, 4):  # after each failure: half to all of 1 s, then 2 s, then 4 s
        assert deliver_at(database, now) == 1
        assert deliver_at(database, now + timedelta(seconds=ceiling_s / 2 - 0.1)) == 0
        now += timedelta(seconds=ceiling_s)
    assert deliver_at(database, now) == 1
    assert delivery(database).state == "delivered"
    assert delivery(database).attempts == 4


def test_permanently_failing_endpoint_is_given_up_after_max_attempts(
    database: Database, endpoint: Endpoint
) -> None:
    endpoint.answers = [500]
    one_verdict_to_deliver(database, endpoint)
    now = utc_now()
    tries = 0
    while deliver_at(database, now, max_attempts=5):
        tries += 1
        now += timedelta(hours=2)  # past any backoff
    assert tries == 5
    assert delivery(database).state == "failed"
    assert deliver_at(database, now + timedelta(days=1), max_attempts=5) == 0


def test_an_endpoint_that_refuses_for_good_is_not_tried_again(
    database: Database, endpoint: Endpoint
) -> None:
    endpoint.answers = [410]
    one_verdict_to_deliver(database, endpoint)
    now = utc_now()
    assert deliver_at(database, now) == 1
    assert delivery(database).state == "failed"
    assert deliver_at(database, now + timedelta(days=1)) == 0


def test_deleting_an_endpoint_fails_its_pending_deliveries_unsent(
    database: Database, endpoint: Endpoint
) -> None:
    hook_id = one_verdict_to_deliver(database, endpoint)
    delete_webhook(database, hook_id)
    assert deliver_at(database, utc_now() + timedelta(days=1)) == 0
    assert endpoint.keys == []  # nothing was posted
    assert delivery(database).state == "failed"
    with database.reader() as session:
        reasons = session.scalars(select(DeliveryAttempt.error)).all()
    assert reasons == ["endpoint deleted"]


def test_an_endpoints_retry_after_is_honoured(database: Database, endpoint: Endpoint) -> None:
    endpoint.answers = [429, 204]
    endpoint.retry_after = "30"
    one_verdict_to_deliver(database, endpoint)
    now = utc_now()
    assert deliver_at(database, now) == 1
    assert deliver_at(database, now + timedelta(seconds=29)) == 0
    assert deliver_at(database, now + timedelta(seconds=30)) == 1
    assert delivery(database).state == "delivered"


def test_every_try_carries_the_deliverys_idempotency_key(
    database: Database, endpoint: Endpoint
) -> None:
    endpoint.answers = [503, 204]
    one_verdict_to_deliver(database, endpoint)
    now = utc_now()
    deliver_at(database, now)
    deliver_at(database, now + timedelta(seconds=1))
    assert len(endpoint.keys) == 2
    assert endpoint.keys[0] == endpoint.keys[1] == f"webhook-delivery-{delivery(database).id}"


def test_delivery_attempts_are_listed_by_the_api(
    settings: Settings, database: Database, endpoint: Endpoint
) -> None:
    endpoint.answers = [500, 204]
    hook_id = one_verdict_to_deliver(database, endpoint)
    now = utc_now()
    deliver_at(database, now)
    deliver_at(database, now + timedelta(seconds=1))
    answer = asyncio.run(api_get(settings, database, f"/v1/webhooks/{hook_id}/deliveries"))
    assert answer.status_code == 200
    attempts = answer.json()
    assert [a["status_code"] for a in attempts] == [204, 500]  # newest first
    assert attempts[1]["error"] == "endpoint answered 500"
    assert attempts[0]["error"] is None


def test_deliveries_to_a_slow_receiver_are_posted_many_at_a_time(database: Database) -> None:
    # A receiver across a network answers in tens of milliseconds: one POST at a time held a
    # node to a few dozen verdicts a second, whatever its upload rate.
    lock = threading.Lock()
    in_flight = [0, 0]  # now, most at once

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                in_flight[0] += 1
                in_flight[1] = max(in_flight)
            time.sleep(0.05)
            with lock:
                in_flight[0] -= 1
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        register_webhook(database, f"http://127.0.0.1:{server.server_port}/hook", SECRET)
        decide_signals(database, [{"md5": f"{i:032x}"} for i in range(1, 33)])
        with httpx.Client() as client, ThreadPoolExecutor(CONCURRENCY) as pool:
            assert deliver_due(database, client, pool=pool) == 32
    finally:
        server.shutdown()
        server.server_close()
    assert in_flight[1] >= 4, f"at most {in_flight[1]} POSTs were in flight at once"
    with database.reader() as session:
        states = session.scalars(select(WebhookDelivery.state)).all()
    assert states == ["delivered"] * 32


def claimed_by_a_sender_that_died(database: Database, now: datetime, claim_s: float) -> None:
    """Claim every due delivery as a sender does before it POSTs, and never record a try."""
    assert DELIVERIES.claim(database, [DESTINATION], now, 64, claim_s, "dead-sender")


def test_webhook_claim_seconds_come_from_the_setting() -> None:
    assert Settings.from_env({}).webhook_claim_s == CLAIM_S == 60.0
    assert Settings.from_env({"TUTELA_WEBHOOK_CLAIM_S": "2.5"}).webhook_claim_s == 2.5
    for bad in ("0", "-1", "soon"):
        with pytest.raises(ConfigurationError, match="TUTELA_WEBHOOK_CLAIM_S"):
            Settings.from_env({"TUTELA_WEBHOOK_CLAIM_S": bad})


def test_a_dead_senders_deliveries_are_taken_over_once_its_claim_runs_out(
    database: Database, endpoint: Endpoint
) -> None:
    one_verdict_to_deliver(database, endpoint)
    now = utc_now()
    claimed_by_a_sender_that_died(database, now, claim_s=5)
    with httpx.Client() as client:
        assert deliver_due(database, client, now=now + timedelta(seconds=4), claim_s=5) == 0
        assert deliver_due(database, client, now=now + timedelta(seconds=6), claim_s=5) == 1
    assert endpoint.signed == [True]
    assert delivery(database).state == "delivered"


def test_a_short_claim_takes_no_more_deliveries_than_it_can_post_before_running_out() -> None:
    assert claim_limit(64, CLAIM_S) == 64
    assert claim_limit(64, 20) == 2 * CONCURRENCY  # two rounds of one POST's timeout
    assert claim_limit(64, 2) == CONCURRENCY  # one round, at least
    assert claim_limit(5, 2) == 5


def test_the_webhook_sender_holds_its_claims_for_the_configured_seconds(
    database: Database, endpoint: Endpoint
) -> None:
    # A killed worker's deliveries wait the setting's seconds, not a fixed minute.
    one_verdict_to_deliver(database, endpoint)
    claim_s = Settings.from_env({"TUTELA_WEBHOOK_CLAIM_S": "1"}).webhook_claim_s
    claimed_by_a_sender_that_died(database, utc_now(), claim_s)
    with httpx.Client() as client, WebhookSender(database, client, claim_s):
        deadline = time.monotonic() + 20
        while delivery(database).state != "delivered" and time.monotonic() < deadline:
            time.sleep(0.05)
    assert delivery(database).state == "delivered"
    assert endpoint.signed == [True]
