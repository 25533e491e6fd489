"""Two `tutela serve` processes on one PostgreSQL database are one node (issue 18): a burst of
uploads alternating between them, with the same upload sent to both at once, gives each item
once, one verdict, one case where one is due and one webhook delivery; an indicator committed
while both run is matched by each within a bound, measured here (LISTEN/NOTIFY, not polling).

PostgreSQL only: skipped without TUTELA_TEST_DATABASE_URL. TUTELA_REPLICA_UPLOADS sizes the burst.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from conftest import POSTGRES_ENV, fresh_postgres_database
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
from test_api_pipeline_e2e import SECRET, _Receiver, receiver  # noqa: F401 (a fixture)
from tutela.db import open_database
from tutela.detection.models import Case, Item, Job, WebhookDelivery
from tutela.indicators.ledger import add_indicator
from tutela.settings import Settings

UPLOADS = int(os.environ.get("TUTELA_REPLICA_UPLOADS", "120"))
EDITED = 10
# A bank change is matched by every replica within this (measured: tens of milliseconds).
BOUND_S = 2.0


@pytest.mark.slow
def test_two_replicas_on_one_postgresql_database_behave_as_one_node(
    tmp_path: Path,
    receiver: str,  # noqa: F811 (the fixture imported above)
) -> None:
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    with ExitStack() as stack:
        url = stack.enter_context(fresh_postgres_database(server))
        settings = Settings(data_dir=tmp_path / "data", database_url=url)
        database = open_database(settings)
        stack.callback(database.close)
        make_bank(database, "known", [drawn_image(i) for i in range(EDITED)])
        key = make_key(database)
        env = {
            "TUTELA_WEBHOOK_ALLOW_PRIVATE": "1",  # the receiver runs on this machine
            # Polling once a minute: a bank change reaches the lookups by notification only.
            "TUTELA_MATCHER_REFRESH_MS": "60000",
            "TUTELA_OUTBOX_INTERVAL_S": "0.2",
        }
        replicas = []
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            node = stack.enter_context(running_node(settings, tmp_path / name, workers=1, env=env))
            replicas.append(node)
        headers = {"Authorization": f"Bearer {key}"}
        clients = [
            stack.enter_context(httpx.Client(base_url=n.url, headers=headers, timeout=60))
            for n in replicas
        ]
        hook = clients[0].post("/v1/webhooks", json={"url": receiver, "secret": SECRET})
        assert hook.status_code == 201

        files = [
            (f"edited-{i}", edited_copy(drawn_image(i), EDITS[i % len(EDITS)]))
            for i in range(EDITED)
        ] + [(f"plain-{i}", jpeg(drawn_image(i))) for i in range(EDITED, UPLOADS)]
        # Every upload to one replica, alternating; every third also to the other, at once.
        sends = [(i % 2, entry) for i, entry in enumerate(files)]
        sends += [(1 - i % 2, entry) for i, entry in enumerate(files) if i % 3 == 0]
        sends.sort(key=lambda send: send[1][0])  # a duplicate beside its first

        def submit(send: tuple[int, tuple[str, bytes]]) -> tuple[str, int]:
            replica, (item_id, data) = send
            meta = json.dumps({"item_id": item_id, "account_id": "acct-1"})
            answer = clients[replica].post(
                "/v1/items", files={"file": ("x", data)}, data={"metadata": meta}
            )
            assert answer.status_code in (200, 202), answer.text
            return item_id, int(answer.json()["id"])

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(submit, sends))
        ids: dict[str, set[int]] = {}
        for item_id, ident in answers:
            ids.setdefault(item_id, set()).add(ident)
        assert all(len(found) == 1 for found in ids.values())  # one item, whichever replica
        item_ids = {item_id: found.pop() for item_id, found in ids.items()}
        decided = wait_decided(clients[1], list(item_ids.values()), timeout_s=60 + UPLOADS)

        # An indicator committed while both run: each replica's /v1/match finds it.
        value = secrets.token_hex(32)
        added = time.perf_counter()
        add_indicator(database, "known", "pdq", value)
        lags = [matched_after(client, value, added) for client in clients]
        print(f"bank change matched after {lags[0] * 1000:.0f} ms (a), {lags[1] * 1000:.0f} ms (b)")
        assert max(lags) < BOUND_S

        deadline = time.monotonic() + 60
        while len(_Receiver.received) < UPLOADS and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # a second delivery of anything would arrive meanwhile
        with database.reader() as session:
            assert session.scalar(select(func.count()).select_from(Item)) == UPLOADS
            assert session.scalar(select(func.count()).where(Item.status != "done")) == 0
            assert session.scalar(select(func.count()).select_from(Job)) == 0
            assert session.scalar(select(func.count()).select_from(Case)) == EDITED
            # One outbox row per item for the one webhook: each item was decided once.
            rows = session.execute(
                select(WebhookDelivery.item_id, func.count()).group_by(WebhookDelivery.item_id)
            ).all()
            assert len(rows) == UPLOADS and all(count == 1 for _, count in rows)

    for item_id, ident in item_ids.items():
        view = decided[ident]
        if item_id.startswith("edited-"):
            assert view["verdict"] == "review" and view["case_id"] is not None, item_id
        else:
            assert view["verdict"] == "no_match" and view["case_id"] is None, item_id
    delivered = Counter(int(str(message["id"])) for message in _Receiver.received)
    assert set(delivered) == set(item_ids.values()) and set(delivered.values()) == {1}
    assert _Receiver.bad_signatures == 0


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
