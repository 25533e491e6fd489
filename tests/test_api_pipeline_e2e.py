"""End to end over real HTTP: a running node decides every upload exactly once, finds the edited
copies of banked images, and a worker killed mid-stream changes nothing in the outcome.

TUTELA_E2E_IMAGES (default 1000) and TUTELA_E2E_EDITED (default 50) size the run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from sqlalchemy import func, select

from provider_fixtures import (
    EDITS,
    drawn_image,
    edited_copy,
    jpeg,
    make_bank,
    make_key,
    running_node,
    wait_decided,
)
from tutela.db.database import Database
from tutela.detection.models import Case, Item, Job, WebhookDelivery
from tutela.settings import Settings

IMAGES = int(os.environ.get("TUTELA_E2E_IMAGES", "1000"))
EDITED = int(os.environ.get("TUTELA_E2E_EDITED", "50"))
SECRET = "a-webhook-secret-of-some-length"


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, object]]] = []
    bad_signatures = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        stamp = self.headers["X-Tutela-Timestamp"]
        mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256)
        if self.headers["X-Tutela-Signature"] != "sha256=" + mac.hexdigest():
            type(self).bad_signatures += 1
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


def uploads() -> list[tuple[str, bytes, bool]]:
    """(item id, bytes, is an edited copy of a banked image) for every upload of the run."""
    out = []
    for i in range(EDITED):
        out.append((f"edited-{i}", edited_copy(drawn_image(i), EDITS[i % len(EDITS)]), True))
    for i in range(EDITED, IMAGES):
        out.append((f"plain-{i}", jpeg(drawn_image(i)), False))
    return out


# Two runs, not the four of both modes on both databases (half a minute each): each mode once
# and each database once. The default mode on the embedded default database; every upload queued
# on PostgreSQL, where workers claim jobs with SKIP LOCKED rather than SQLite's write lock.
MODES = [("sqlite", "16"), ("postgresql", "0")]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("settings", "depth"),
    MODES,
    ids=["hashed-at-intake-sqlite", "queued-postgresql"],
    indirect=["settings"],
)
def test_every_upload_gets_one_verdict_even_when_a_worker_is_killed(
    settings: Settings, database: Database, tmp_path: Path, receiver: str, depth: str
) -> None:
    """Hashed at intake (the default), a killed worker loses no webhook; with every upload
    queued (TUTELA_INLINE_HASHING_DEPTH=0), it loses no job either."""
    make_bank(database, "known", [drawn_image(i) for i in range(EDITED)])
    key = make_key(database)
    files = uploads()
    env = {
        "TUTELA_JOB_LEASE_S": "3",
        "TUTELA_INLINE_HASHING_DEPTH": depth,
        "TUTELA_WEBHOOK_ALLOW_PRIVATE": "1",  # the receiver runs on this machine
    }
    with running_node(settings, tmp_path, workers=2, env=env) as node:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=node.url, headers=headers, timeout=60) as client:
            hook = client.post("/v1/webhooks", json={"url": receiver, "secret": SECRET})
            assert hook.status_code == 201

            def submit(entry: tuple[str, bytes, bool]) -> tuple[str, int]:
                item_id, data, _ = entry
                meta = json.dumps({"item_id": item_id, "account_id": "acct-1"})
                answer = client.post(
                    "/v1/items", files={"file": ("x", data)}, data={"metadata": meta}
                )
                assert answer.status_code == 202, answer.text
                return item_id, int(answer.json()["id"])

            with ThreadPoolExecutor(8) as pool:
                half = list(pool.map(submit, files[: len(files) // 2]))
                node.kill_worker(node.worker_pids()[0])
                rest = list(pool.map(submit, files[len(files) // 2 :]))
            ids = dict(half + rest)
            decided = wait_decided(client, list(ids.values()), timeout_s=60 + IMAGES * 0.5)
            repeat = client.post(
                "/v1/items",
                files={"file": ("x", files[0][1])},
                data={"metadata": json.dumps({"item_id": files[0][0]})},
            )
    assert repeat.status_code == 200 and repeat.json()["id"] == ids[files[0][0]]
    verdicts = {item_id: decided[ids[item_id]] for item_id in ids}
    for item_id, _, edited in files:
        view = verdicts[item_id]
        if edited:
            assert view["verdict"] == "review" and view["case_id"] is not None, item_id
            assert view["matches"], item_id
        else:
            assert view["verdict"] == "no_match" and view["case_id"] is None, item_id
    with database.reader() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0
        assert session.scalar(select(func.count()).select_from(Case)) == EDITED
        # One outbox row per item for the one webhook: each item was decided exactly once.
        rows = session.execute(
            select(WebhookDelivery.item_id, func.count()).group_by(WebhookDelivery.item_id)
        ).all()
        assert len(rows) == len(files) and all(count == 1 for _, count in rows)
        assert session.scalar(select(func.count()).where(Item.status != "done")) == 0
    assert _Receiver.bad_signatures == 0
