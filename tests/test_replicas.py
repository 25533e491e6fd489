"""Two `tutela serve` processes on one PostgreSQL database are one node (issue 18).

- A burst of uploads alternating between them, with the same upload sent to both at once, gives
  each item once, one verdict, one case where one is due and one webhook delivery; an indicator
  committed while both run is matched by each within a bound, measured here (LISTEN/NOTIFY: the
  replicas poll only once a minute).
- One replica SIGKILLed mid-burst: the client turns to the other for what the dead one did not
  answer (as a reverse proxy's next-upstream does, docs/replicas.md); every item still gets one
  verdict and its webhook, under one idempotency key.

PostgreSQL only: skipped without TUTELA_TEST_DATABASE_URL. TUTELA_REPLICA_UPLOADS and
TUTELA_REPLICA_KILL_UPLOADS size the bursts (the issue's run: 1000).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
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
from tutela.db import Database, open_database
from tutela.detection.models import Case, Item, Job, WebhookDelivery
from tutela.indicators.ledger import add_indicator
from tutela.settings import Settings

UPLOADS = int(os.environ.get("TUTELA_REPLICA_UPLOADS", "120"))
KILL_UPLOADS = int(os.environ.get("TUTELA_REPLICA_KILL_UPLOADS", "150"))
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
        key = make_key(self.database)
        env = {
            "TUTELA_WEBHOOK_ALLOW_PRIVATE": "1",  # the receiver runs on this machine
            # Polling once a minute: a bank change reaches the lookups by notification only.
            "TUTELA_MATCHER_REFRESH_MS": "60000",
            "TUTELA_OUTBOX_INTERVAL_S": "0.2",
            "TUTELA_JOB_LEASE_S": "3",  # a killed replica's jobs come back soon
        }
        self.nodes: list[RunningNode] = []
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            node = running_node(settings, tmp_path / name, workers=1, env=env)
            self.nodes.append(stack.enter_context(node))
        headers = {"Authorization": f"Bearer {key}"}
        self.clients = [
            stack.enter_context(httpx.Client(base_url=n.url, headers=headers, timeout=60))
            for n in self.nodes
        ]
        hook = self.clients[0].post("/v1/webhooks", json={"url": receiver, "secret": SECRET})
        assert hook.status_code == 201
        self.files = [
            (f"edited-{i}", edited_copy(drawn_image(i), EDITS[i % len(EDITS)]))
            for i in range(EDITED)
        ] + [(f"plain-{i}", jpeg(drawn_image(i))) for i in range(EDITED, uploads)]
        self.dead: set[int] = set()

    def sends(self) -> list[tuple[int, tuple[str, bytes]]]:
        """Each upload to one replica, alternating; every third also to the other, at once."""
        out = [(i % 2, entry) for i, entry in enumerate(self.files)]
        out += [(1 - i % 2, entry) for i, entry in enumerate(self.files) if i % 3 == 0]
        return sorted(out, key=lambda send: send[1][0])  # a duplicate beside its first

    def submit(self, send: tuple[int, tuple[str, bytes]]) -> tuple[str, int]:
        """Upload to the chosen replica; to the other when that one does not answer."""
        replica, (item_id, data) = send
        meta = json.dumps({"item_id": item_id, "account_id": "acct-1"})
        for target in (replica, 1 - replica):
            if target in self.dead:
                continue
            try:
                answer = self.clients[target].post(
                    "/v1/items", files={"file": ("x", data)}, data={"metadata": meta}
                )
            except httpx.TransportError:
                continue  # killed under this request: the proxy tries the next upstream
            assert answer.status_code in (200, 202), answer.text
            return item_id, int(answer.json()["id"])
        raise AssertionError(f"no replica took {item_id}")

    def burst(self, midway: Callable[[], None] | None = None) -> dict[str, int]:
        """Send every upload from 8 threads (`midway` once a third are answered); the item id of
        each upload, the same whichever replica answered."""
        sends = self.sends()
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(self.submit, sends[: len(sends) // 3]))
            if midway is not None:
                midway()
            answers += pool.map(self.submit, sends[len(sends) // 3 :])
        ids: dict[str, set[int]] = {}
        for item_id, ident in answers:
            ids.setdefault(item_id, set()).add(ident)
        assert all(len(found) == 1 for found in ids.values())  # one item, whichever replica
        return {item_id: found.pop() for item_id, found in ids.items()}

    def live_client(self) -> httpx.Client:
        return next(c for i, c in enumerate(self.clients) if i not in self.dead)


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


@pytest.mark.slow
def test_a_replica_killed_mid_burst_loses_no_verdict_and_no_webhook(
    postgres_settings: Settings, tmp_path: Path, receiver: str
) -> None:
    with ExitStack() as stack:
        replicas = Replicas(stack, postgres_settings, tmp_path, receiver, KILL_UPLOADS)

        def kill_a() -> None:
            replicas.nodes[0].process.kill()  # SIGKILL: no shutdown, claims and leases held
            replicas.dead.add(0)

        item_ids = replicas.burst(midway=kill_a)
        decided = wait_decided(replicas.live_client(), list(item_ids.values()), 90 + KILL_UPLOADS)
        # Webhooks the dead replica had claimed come back when their claims run out (60 s).
        wait_delivered(len(item_ids), 150)
        check_once(replicas.database, item_ids, decided)
        repeats = len(_Receiver.received) - len(item_ids)
        print(f"{len(item_ids)} items, {repeats} webhook(s) sent again under the same key")


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
