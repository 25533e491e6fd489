"""Two `tutela serve` processes on one PostgreSQL database are one node (issue 18).

- A burst of uploads alternating between them, with the same upload sent to both at once, gives
  each item once, one verdict, one case where one is due and one webhook delivery; an indicator
  committed while both run is matched by each within a bound, measured here (LISTEN/NOTIFY: the
  replicas poll only once a minute). No replica dies, so no webhook is sent twice.
- 1,000 uploads through a real reverse proxy in front of both (tests/reverse_proxy.py: round
  robin, passive health, nginx's `proxy_next_upstream error timeout`), 12 at a time, one replica
  SIGKILLed while uploads are in flight and not restarted. The proxy passes on what the dead one
  refused and answers 502 for what died under it; the platform sends a failed upload again, the
  same item id and bytes. Every item gets one verdict, one outbox row for its webhook, and its
  webhook delivered at least once, every try under one idempotency key (docs/webhooks.md).

PostgreSQL only: skipped without TUTELA_TEST_DATABASE_URL. TUTELA_REPLICA_UPLOADS and
TUTELA_REPLICA_KILL_UPLOADS size the bursts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from sqlalchemy import func, select

from conftest import POSTGRES_ENV, fresh_postgres_database
from provider_fixtures import (
    EDITS,
    RunningNode,
    drawn_image,
    edited_copy,
    jpeg,
    make_bank,
    make_key,
    running_node,
    wait_decided,
)
from reverse_proxy import access_log, running_proxy
from tutela.db import Database, open_database
from tutela.detection.models import Case, Item, Job, WebhookDelivery
from tutela.indicators.ledger import add_indicator
from tutela.settings import Settings

UPLOADS = int(os.environ.get("TUTELA_REPLICA_UPLOADS", "120"))
KILL_UPLOADS = int(os.environ.get("TUTELA_REPLICA_KILL_UPLOADS", "1000"))
CLIENTS = 12  # uploads in flight at once through the proxy
DOUBLE_EVERY = 10
RETRIES = 10
EDITED = 10
SECRET = "a-webhook-secret-of-some-length"
# A bank change is matched by every replica within this (measured: 76-164 ms on 2 busy cores).
BOUND_S = 2.0


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, object]]]] = []
    bad_signatures = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        stamp = self.headers["X-Tutela-Timestamp"]
        mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256)
        with type(self).lock:
            if self.headers["X-Tutela-Signature"] != "sha256=" + mac.hexdigest():
                type(self).bad_signatures += 1
            type(self).received.append((self.headers["Idempotency-Key"], json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.received, _Receiver.bad_signatures = [], 0
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


@pytest.fixture
def postgres_settings(tmp_path: Path) -> Iterator[Settings]:
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"{POSTGRES_ENV} is not set: replicas need PostgreSQL")
    with fresh_postgres_database(server) as url:
        yield Settings(data_dir=tmp_path / "data", database_url=url)


class Replicas:
    """Two `tutela serve --workers 1` on one database, a client of each and the burst's files."""

    def __init__(
        self, stack: ExitStack, settings: Settings, tmp_path: Path, receiver: str, uploads: int
    ) -> None:
        self.database = open_database(settings)
        stack.callback(self.database.close)
        make_bank(self.database, "known", [drawn_image(i) for i in range(EDITED)])
        self.key = key = make_key(self.database)
        env = {
            "TUTELA_WEBHOOK_ALLOW_PRIVATE": "1",  # the receiver runs on this machine
            # Polling once a minute: a bank change reaches the lookups by notification only.
            "TUTELA_MATCHER_REFRESH_MS": "60000",
            "TUTELA_OUTBOX_INTERVAL_S": "0.2",
            "TUTELA_JOB_LEASE_S": "3",  # a killed replica's jobs come back soon
            "TUTELA_TRUSTED_PROXIES": "127.0.0.1",  # the reverse proxy, as docs/replicas.md says
        }
        # Drawn before the replicas start, so that their start (bounded by running_node) does
        # not share the CPU with drawing.
        began = time.monotonic()
        self.files = [
            (f"edited-{i}", edited_copy(drawn_image(i), EDITS[i % len(EDITS)]))
            for i in range(EDITED)
        ] + [(f"plain-{i}", jpeg(drawn_image(i))) for i in range(EDITED, uploads)]
        self.drawn_s = time.monotonic() - began
        # Both start at once; one that fails to start is stopped with the stack like the other.
        with ThreadPoolExecutor(2) as pool:
            starting = []
            for name in ("a", "b"):
                (tmp_path / name).mkdir()
                node = running_node(settings, tmp_path / name, workers=1, env=env)
                starting.append(pool.submit(stack.enter_context, node))
        self.nodes: list[RunningNode] = [future.result() for future in starting]
        headers = {"Authorization": f"Bearer {key}"}
        self.clients = [
            stack.enter_context(httpx.Client(base_url=n.url, headers=headers, timeout=60))
            for n in self.nodes
        ]
        hook = self.clients[0].post("/v1/webhooks", json={"url": receiver, "secret": SECRET})
        assert hook.status_code == 201

    def sends(self) -> list[tuple[int, tuple[str, bytes]]]:
        """Each upload to one replica, alternating; every third also to the other, at once."""
        out = [(i % 2, entry) for i, entry in enumerate(self.files)]
        out += [(1 - i % 2, entry) for i, entry in enumerate(self.files) if i % 3 == 0]
        return sorted(out, key=lambda send: send[1][0])  # a duplicate beside its first

    def submit(self, send: tuple[int, tuple[str, bytes]]) -> tuple[str, int]:
        """Upload to the chosen replica."""
        replica, (item_id, data) = send
        answer = self.clients[replica].post(
            "/v1/items", files={"file": ("x", data)}, data={"metadata": metadata(item_id)}
        )
        assert answer.status_code in (200, 202), answer.text
        return item_id, int(answer.json()["id"])

    def burst(self) -> dict[str, int]:
        """Send every upload from 8 threads; the item id of each upload, the same whichever
        replica answered."""
        with ThreadPoolExecutor(8) as pool:
            return one_item_each(pool.map(self.submit, self.sends()))


def metadata(item_id: str) -> str:
    return json.dumps({"item_id": item_id, "account_id": "acct-1"})


def one_item_each(answers: Iterable[tuple[str, int]]) -> dict[str, int]:
    """The node's id of each upload, checked to be the same for every answer about it."""
    ids: dict[str, set[int]] = {}
    for item_id, ident in answers:
        ids.setdefault(item_id, set()).add(ident)
    assert all(len(found) == 1 for found in ids.values())  # one item, whichever replica
    return {item_id: found.pop() for item_id, found in ids.items()}


def wait_delivered(count: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while len({key for key, _ in _Receiver.received}) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # a second delivery of anything would arrive meanwhile


def check_once(
    database: Database, item_ids: dict[str, int], decided: dict[int, dict[str, object]]
) -> None:
    """One item per upload, each decided once (one verdict, a case where due, one outbox row
    per item for the one webhook), and each delivered under one idempotency key."""
    with database.reader() as session:
        assert session.scalar(select(func.count()).select_from(Item)) == len(item_ids)
        assert session.scalar(select(func.count()).where(Item.status != "done")) == 0
        assert session.scalar(select(func.count()).select_from(Job)) == 0
        assert session.scalar(select(func.count()).select_from(Case)) == EDITED
        rows = session.execute(
            select(WebhookDelivery.item_id, func.count()).group_by(WebhookDelivery.item_id)
        ).all()
        assert len(rows) == len(item_ids) and all(count == 1 for _, count in rows)
    for item_id, ident in item_ids.items():
        view = decided[ident]
        if item_id.startswith("edited-"):
            assert view["verdict"] == "review" and view["case_id"] is not None, item_id
        else:
            assert view["verdict"] == "no_match" and view["case_id"] is None, item_id
    keys: dict[int, set[str]] = {}
    for key, message in _Receiver.received:
        keys.setdefault(int(str(message["id"])), set()).add(key)
    assert set(keys) == set(item_ids.values())
    assert all(len(found) == 1 for found in keys.values())
    assert _Receiver.bad_signatures == 0


@pytest.mark.slow
def test_two_replicas_on_one_postgresql_database_behave_as_one_node(
    postgres_settings: Settings, tmp_path: Path, receiver: str
) -> None:
    with ExitStack() as stack:
        replicas = Replicas(stack, postgres_settings, tmp_path, receiver, UPLOADS)
        item_ids = replicas.burst()
        decided = wait_decided(replicas.clients[1], list(item_ids.values()), 60 + UPLOADS)

        # An indicator committed while both run: each replica's /v1/match finds it.
        value = secrets.token_hex(32)
        added = time.perf_counter()
        add_indicator(replicas.database, "known", "pdq", value)
        lags = [matched_after(client, value, added) for client in replicas.clients]
        print(f"bank change matched after {lags[0] * 1000:.0f} ms (a), {lags[1] * 1000:.0f} ms (b)")
        assert max(lags) < BOUND_S

        wait_delivered(len(item_ids), 60)
        check_once(replicas.database, item_ids, decided)
        # Nothing was sent twice: no replica crashed, so no claim ran out.
        assert len(_Receiver.received) == len(item_ids)


class Platform:
    """The platform's side of the burst: uploads through the proxy from CLIENTS threads; an upload
    that fails (the proxy's 502/504, or a broken connection) is sent again, the same item id and
    bytes, as a platform's retry would. `kill` runs once, from the thread whose answer makes
    `kill_after` answered uploads, while the other threads' uploads are in flight."""

    def __init__(self, stack: ExitStack, url: str, key: str, kill: Callable[[], None]) -> None:
        self.client = stack.enter_context(
            httpx.Client(
                base_url=url,
                headers={"Authorization": f"Bearer {key}"},
                timeout=60,
                limits=httpx.Limits(max_connections=CLIENTS),
            )
        )
        self.kill = kill
        self.kill_after = 0
        self.in_flight_at_kill = -1
        self.answered = 0
        self.in_flight = 0
        self.failures: list[str] = []
        self.lock = threading.Lock()

    def upload(self, entry: tuple[str, bytes]) -> tuple[str, int]:
        item_id, data = entry
        for attempt in range(RETRIES):
            with self.lock:
                self.in_flight += 1
            try:
                answer = self.client.post(
                    "/v1/items", files={"file": ("x", data)}, data={"metadata": metadata(item_id)}
                )
                failed = answer.status_code in (502, 503, 504) and f"{answer.status_code}"
            except httpx.TransportError as error:
                failed = type(error).__name__
            with self.lock:
                self.in_flight -= 1
                if failed:
                    self.failures.append(failed)
                else:
                    self.answered += 1
                    kill_now = self.answered == self.kill_after
                    if kill_now:
                        self.in_flight_at_kill = self.in_flight
            if failed:
                time.sleep(0.05 * (attempt + 1))
                continue
            if kill_now:
                self.kill()
            assert answer.status_code in (200, 202), answer.text
            return item_id, int(answer.json()["id"])
        raise AssertionError(f"{item_id} was refused {RETRIES} times")

    def burst(self, files: list[tuple[str, bytes]]) -> dict[str, int]:
        """Every upload once, every DOUBLE_EVERY-th twice at once (a platform's retry racing its
        first try); the node's id of each."""
        sends = [
            entry for i, entry in enumerate(files) for _ in range(2 if i % DOUBLE_EVERY == 0 else 1)
        ]
        self.kill_after = len(sends) * 2 // 5
        with ThreadPoolExecutor(CLIENTS) as pool:
            return one_item_each(pool.map(self.upload, sends))


@pytest.mark.slow
def test_a_replica_killed_behind_a_reverse_proxy_loses_no_upload_verdict_or_webhook(
    postgres_settings: Settings, tmp_path: Path, receiver: str
) -> None:
    started, cpu = time.monotonic(), cpu_seconds()
    with ExitStack() as stack:
        replicas = Replicas(stack, postgres_settings, tmp_path, receiver, KILL_UPLOADS)
        a, b = (node.url.removeprefix("http://") for node in replicas.nodes)
        url, log = stack.enter_context(
            running_proxy(tmp_path, [node.url for node in replicas.nodes])
        )

        def kill_a() -> None:
            replicas.nodes[0].process.kill()  # SIGKILL: no shutdown, claims and leases held

        platform = Platform(stack, url, replicas.key, kill_a)
        ready = time.monotonic()
        item_ids = platform.burst(replicas.files)
        sent = time.monotonic()
        assert len(item_ids) == KILL_UPLOADS
        assert replicas.nodes[0].process.poll() is not None  # killed, and not restarted

        wait_all_done(replicas.database, 90)
        done = time.monotonic()
        # Webhooks the dead replica had claimed come back when their claims run out (60 s).
        wait_delivered(len(item_ids), 120)
        delivered = time.monotonic()
        verdicts = delivered_verdicts()
        check_once(replicas.database, item_ids, verdicts)
        # The platform reads verdicts through the proxy (b alone now): the same as delivered.
        edited = [ident for item_id, ident in item_ids.items() if item_id.startswith("edited-")]
        for ident in edited + list(item_ids.values())[::20]:
            view = platform.client.get(f"/v1/items/{ident}")
            assert view.status_code == 200, view.text
            for field in ("item_id", "verdict", "case_id", "error"):
                assert view.json()[field] == verdicts[ident][field], (ident, field)

    posts = [(status, tried) for method, _, status, tried in access_log(log) if method == "POST"]
    # Round robin: both replicas took uploads before the kill.
    assert {tried[0] for _, tried in posts} == {a, b}
    # The proxy noticed the dead replica: what it refused was passed on to b, what died under
    # it answered 502 and was never sent to b by the proxy (the platform sent it again).
    passed_on = [tried for status, tried in posts if tried == [a, b]]
    bad_gateway = [tried for status, tried in posts if status == 502]
    assert passed_on or bad_gateway
    assert all(tried == [a] for tried in bad_gateway)
    assert sorted(platform.failures) == ["502"] * len(bad_gateway)
    repeats = len(_Receiver.received) - len(item_ids)
    print(
        f"{len(item_ids)} items; killed with {platform.in_flight_at_kill} uploads in flight; "
        f"{len(passed_on)} passed on to b, {len(bad_gateway)} answered 502 and sent again; "
        f"{repeats} webhook(s) sent again under the same key; "
        f"set up {ready - started:.1f} s (drawing {replicas.drawn_s:.1f} s), uploads {sent - ready:.1f} s, decided "
        f"{done - sent:.1f} s more, delivered {delivered - done:.1f} s more; "
        f"CPU {cpu_seconds() - cpu:.1f} s (this process and the reaped processes it started)"
    )


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def delivered_verdicts() -> dict[int, dict[str, object]]:
    """Each item's webhook body; every try of one delivery carries the same body."""
    bodies: dict[int, dict[str, object]] = {}
    for _, message in _Receiver.received:
        assert bodies.setdefault(int(str(message["id"])), message) == message
    return bodies


def wait_all_done(database: Database, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with database.reader() as session:
            waiting = session.scalar(select(func.count()).where(Item.status != "done"))
        if not waiting:
            return
        assert time.monotonic() < deadline, f"{waiting} items undecided after {timeout_s} s"
        time.sleep(0.3)


def matched_after(client: httpx.Client, value: str, since: float) -> float:
    """Seconds from `since` until this replica's /v1/match finds `value`."""
    while True:
        answer = client.post("/v1/match", json={"signal_type": "pdq", "value": value})
        assert answer.status_code == 200, answer.text
        if answer.json()["matches"]:
            return time.perf_counter() - since
        if time.perf_counter() - since > 10 * BOUND_S:
            raise AssertionError("the bank change was not matched")
        time.sleep(0.002)
