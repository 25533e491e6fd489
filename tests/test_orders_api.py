"""`POST /v1/orders` on the provider node: a removal order signed by a registered authority is
taken once, with its deadline, and each item goes to its platform as a signed webhook; anything
else (bad signature, unknown authority, stale signing time, missing field, unknown item) is a
problem+json answer with nothing written; a repeated delivery is answered as the first."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from order_fixtures import (
    authority_key,
    removal_order,
    signed_order,
    trusted_authority,
    uploads,
)
from provider_fixtures import in_process_client
from tutela.audit.models import AuditEntry
from tutela.db.database import Database
from tutela.detection.models import WebhookDelivery
from tutela.detection.webhooks import register_webhook
from tutela.messaging.messages import SignedMessage
from tutela.orders.models import ReceivedOrder, ReceivedOrderItem
from tutela.settings import Settings


def post(settings: Settings, database: Database, *messages: SignedMessage) -> list[httpx.Response]:
    """Deliver each signed message to the node's `POST /v1/orders`, in turn."""

    async def run() -> list[httpx.Response]:
        async with in_process_client(settings, database, key="none") as client:
            return [
                await client.post("/v1/orders", content=m.body, headers=m.headers("k-1"))
                for m in messages
            ]

    return asyncio.run(run())


def written(database: Database) -> tuple[int, int, int, int]:
    """Rows an order could have written: orders, their items, webhook deliveries, audit entries."""
    with database.reader() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (ReceivedOrder, ReceivedOrderItem, WebhookDelivery, AuditEntry)
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


def now() -> datetime:
    return datetime.now(UTC)


def test_an_order_from_a_registered_authority_is_taken_with_its_24_hour_deadline(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    key = trusted_authority(database, tmp_path)
    items = uploads(database, 2)
    register_webhook(database, "http://127.0.0.1:9/hook", "s" * 20)
    order = removal_order([i.item_ref for i in items], now())
    [answer] = post(settings, database, signed_order(key, order, now()))
    assert answer.status_code == 201, answer.text
    receipt = answer.json()
    received = datetime.fromisoformat(receipt["received_at"])
    assert datetime.fromisoformat(receipt["deadline_at"]) - received == timedelta(hours=24)
    assert [item["id"] for item in receipt["items"]] == [i.id for i in items]
    with database.reader() as session:
        bodies = [json.loads(d.body) for d in session.scalars(select(WebhookDelivery))]
    assert [b["event"] for b in bodies] == ["order.removal_requested"] * 2
    assert {b["item_id"] for b in bodies} == {"upload-1", "upload-2"}
    assert bodies[0]["confirm"] == f"/v1/orders/{receipt['id']}/items/{items[0].id}/executed"


def test_a_repeated_delivery_is_answered_as_the_first_and_stores_nothing(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    key = trusted_authority(database, tmp_path)
    items = uploads(database, 1)
    message = signed_order(key, removal_order([items[0].item_ref], now()), now())
    first, second = post(settings, database, message, message)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert written(database)[:2] == (1, 1)


def test_an_order_with_a_bad_signature_is_refused(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    key = trusted_authority(database, tmp_path)
    items = uploads(database, 1)
    good = signed_order(key, removal_order([items[0].item_ref], now()), now())
    tampered = SignedMessage(
        good.body.replace(b"Placeholder", b"placeholder"), good.signature, key.key_id
    )
    refused(settings, database, tampered, 401, "invalid_signature")


def test_an_order_from_an_unknown_authority_is_refused(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    trusted_authority(database, tmp_path / "known")
    stranger = authority_key(tmp_path / "stranger")
    items = uploads(database, 1)
    message = signed_order(stranger, removal_order([items[0].item_ref], now()), now())
    refused(settings, database, message, 401, "unknown_authority")


def test_an_order_signed_too_long_ago_is_refused(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    key = trusted_authority(database, tmp_path)
    items = uploads(database, 1)
    old = now() - timedelta(days=8)
    message = signed_order(key, removal_order([items[0].item_ref], old), old)
    refused(settings, database, message, 401, "stale_signature")


def test_an_order_missing_a_field_is_refused_naming_it(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    key = trusted_authority(database, tmp_path)
    items = uploads(database, 1)
    order = removal_order([items[0].item_ref], now())
    document = order.document()
    del document["redress"]
    problem = refused(
        settings, database, signed_order(key, order, now(), document), 422, "incomplete_order"
    )
    assert "redress" in problem["detail"]


def test_an_order_for_an_item_the_provider_does_not_hold_is_refused(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    key = trusted_authority(database, tmp_path)
    items = uploads(database, 1)
    order = removal_order([items[0].item_ref, "never-uploaded"], now())
    problem = refused(settings, database, signed_order(key, order, now()), 422, "unknown_item")
    assert "2" in problem["detail"]


def test_an_order_addressed_to_another_provider_is_refused(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    key = trusted_authority(database, tmp_path)
    items = uploads(database, 1)
    order = removal_order([items[0].item_ref], now(), provider_name="Another Provider")
    named = Settings(
        data_dir=settings.data_dir,
        database_url=settings.database_url,
        provider_name="Example Hosting BV",
    )
    refused(named, database, signed_order(key, order, now()), 422, "invalid_input")


def test_an_unsigned_order_is_refused(database: Database, settings: Settings) -> None:
    async def run() -> httpx.Response:
        async with in_process_client(settings, database, key="none") as client:
            return await client.post("/v1/orders", content=b"{}")

    answer = asyncio.run(run())
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"


def test_items_may_be_named_by_url_or_by_the_sha256_of_their_content(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    from tutela.orders.documents import OrderedItem

    key = trusted_authority(database, tmp_path)
    items = uploads(database, 2)
    named = (
        OrderedItem("a", sha256=items[0].sha256),
        OrderedItem("b", url="https://photos.example/p/2"),
    )
    [answer] = post(
        settings, database, signed_order(key, removal_order([], now(), items=named), now())
    )
    assert answer.status_code == 201, answer.text
    assert [i["id"] for i in answer.json()["items"]] == [items[0].id, items[1].id]
