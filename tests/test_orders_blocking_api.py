"""A blocking order over HTTP at the provider's `POST /v1/orders`: taken once (201, its URLs and
end), a repeat answered as the first; an order naming an entry the provider's copy of the URL
list lacks, one missing its end, or one with a bad signature is a problem+json answer with
nothing written. Placeholder URLs only (tests/blocking_fixtures)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from blocking_fixtures import LISTED, Nodes, delivered, issue, nodes
from password_hashing import cheap_argon2  # noqa: F401  (fixture)
from provider_fixtures import in_process_client
from tutela.audit.models import AuditEntry
from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.messaging.messages import SignedMessage, sign_message
from tutela.orders.access_documents import BLOCKING_KIND
from tutela.orders.access_models import ListedUrl, ReceivedOrderUrl
from tutela.orders.models import ReceivedOrder
from tutela.settings import Settings

pytestmark = pytest.mark.usefixtures("cheap_argon2")


@pytest.fixture
def world(database: Database, settings: Settings, tmp_path: Path) -> Nodes:
    return nodes(database, settings, tmp_path)


def queued(world: Nodes, order_id: str) -> SignedMessage:
    payload = delivered(world.database, order_id)
    return SignedMessage(payload["body"].encode(), payload["signature"], payload["key_id"])


def post(settings: Settings, database: Database, *messages: SignedMessage) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        async with in_process_client(settings, database, key="none") as client:
            return [
                await client.post("/v1/orders", content=m.body, headers=m.headers("k-1"))
                for m in messages
            ]

    return asyncio.run(run())


def written(database: Database) -> tuple[int, int, int]:
    with database.reader() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (ReceivedOrder, ReceivedOrderUrl, AuditEntry)
        )


def refused(
    settings: Settings, database: Database, message: SignedMessage, status: int, code: str
) -> dict[str, Any]:
    before = written(database)
    [answer] = post(settings, database, message)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = answer.json()
    assert problem["code"] == code
    assert written(database) == before
    return problem


def forged(world: Nodes, order_id: str, **changes: Any) -> SignedMessage:
    """The queued order's document with `changes`, signed again by the authority."""
    document = json.loads(delivered(world.database, order_id)["body"])["payload"]
    for name, value in changes.items():
        if value is None:
            document.pop(name)
        else:
            document[name] = value
    return sign_message(world.authority, BLOCKING_KIND, order_id, document, utc_now())


def test_a_blocking_order_is_taken_once_with_its_urls_and_end_and_a_repeat_answers_the_same(
    world: Nodes, settings: Settings
) -> None:
    ends_at = utc_now() + timedelta(days=90)
    message = queued(world, issue(world, LISTED[:2], ends_at))
    first, again = post(settings, world.database, message, message)
    assert first.status_code == 201, first.text
    assert first.json()["kind"] == "blocking"
    assert first.json()["ends_at"] == ends_at.isoformat()
    assert [item["url"] for item in first.json()["items"]] == LISTED[:2]
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert written(world.database)[:2] == (1, 2)


def test_an_entry_the_provider_does_not_hold_is_unknown_item_with_nothing_written(
    world: Nodes, settings: Settings
) -> None:
    message = queued(world, issue(world, [LISTED[1]], utc_now() + timedelta(days=9)))
    with world.database.unit_of_work() as session:
        session.delete(session.get_one(ListedUrl, world.entries[LISTED[1]]))
    problem = refused(settings, world.database, message, 422, "unknown_item")
    assert str(world.entries[LISTED[1]]) in problem["detail"]


def test_an_order_without_its_end_is_incomplete_with_nothing_written(
    world: Nodes, settings: Settings
) -> None:
    order_id = issue(world, [LISTED[0]], utc_now() + timedelta(days=9))
    problem = refused(
        settings, world.database, forged(world, order_id, ends_at=None), 422, "incomplete_order"
    )
    assert "ends_at" in problem["detail"]


def test_a_blocking_order_with_a_bad_signature_is_refused_with_nothing_written(
    world: Nodes, settings: Settings
) -> None:
    message = queued(world, issue(world, [LISTED[0]], utc_now() + timedelta(days=9)))
    tampered = SignedMessage(
        message.body.replace(b"blocked", b"blocker"), message.signature, message.key_id
    )
    refused(settings, world.database, tampered, 401, "invalid_signature")
