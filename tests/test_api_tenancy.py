"""Tenancy: every API key belongs to a platform, and a key sees and changes only its own
platform's items, cases, webhooks, complaints and deliveries. Another platform's object answers
exactly as a missing one (404), so ids leak nothing; messages about an item go only to its
platform's webhooks."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from provider_fixtures import make_key
from review_fixtures import PHOTOS, jpeg_bytes, photo, review_db
from test_api_auth import OPERATIONS
from tutela.api.deps import AUTH_KEY
from tutela.auth.api_keys import SCOPES, authenticate, create_api_key, list_api_keys
from tutela.auth.platforms import DEFAULT_PLATFORM
from tutela.clock import FixedClock
from tutela.db.database import Database, open_database
from tutela.db.schema import upgrade
from tutela.detection.items import get_item
from tutela.detection.models import Case, Item, Webhook, WebhookDelivery
from tutela.detection.webhooks import list_webhooks, register_webhook
from tutela.enforcement.measure_models import Complaint, TakedownRequest
from tutela.nodes.provider import create_app
from tutela.review.complaints import decide_complaint
from tutela.review.decisions import Decision, decide
from tutela.settings import Settings
from tutela.signals.hashing import pdq_of_bytes
from tutela.signals.pdq import PdqMode

__all__ = ["review_db"]
Node = tuple[Database, Settings]
A, B = "alpha", "bravo"
# Routes for platforms (by API key), with what their path parameter names.
KEYED_ROUTES = [(method, path) for method, path, op in OPERATIONS if AUTH_KEY not in op]
OWNER_OF_PATH = {
    "/v1/items/": "item",
    "/v1/complaints/": "complaint",
    "/v1/webhooks/": "webhook",
    # Another platform's order item: tests/test_orders_execution.py
    # (test_another_platforms_order_item_is_not_found).
    "/v1/orders/": "order_item",
}
MISSING = 987654321
OLD_SECRET = "an-api-key-issued-before-platforms-existed"


def kind_of(path: str) -> str | None:
    """Which of B's objects a route's `{ident}` names; None for a route without one."""
    if "{" not in path:
        return None
    return next((kind for prefix, kind in OWNER_OF_PATH.items() if path.startswith(prefix)), "?")


def known_pdq(name: str) -> str:
    return pdq_of_bytes(jpeg_bytes(photo(name)), mode=PdqMode.EXACT).hash


def hash_only(item_id: str, name: str) -> dict[str, Any]:
    return {"metadata": {"item_id": item_id}, "signals": {"pdq": known_pdq(name)}}


class Platforms:
    """B with everything a platform can own (a decided item with its case, takedown request and
    complaint, a webhook with deliveries), A with a webhook of its own; and their keys."""

    def __init__(self, database: Database, settings: Settings, client: httpx.AsyncClient) -> None:
        self.database, self.settings, self.client = database, settings, client
        self.keys = {p: make_key(database, f"key-{p}", SCOPES, platform=p) for p in (A, B)}
        self.hooks = {
            p: register_webhook(database, f"http://127.0.0.1:9/{p}", "s" * 20, platform=p)[0].id
            for p in (A, B)
        }

    def as_(self, platform: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[platform]}"}

    async def b_objects(self) -> dict[str, Any]:
        """B submits a known photo's hash, a reviewer confirms it, B forwards a complaint."""
        item = await self.client.post(
            "/v1/items", json=hash_only("b-item", PHOTOS[0]), headers=self.as_(B)
        )
        assert item.status_code == 202, item.text
        item_ident = item.json()["id"]
        with self.database.reader() as session:
            case_id = session.scalar(select(Case.id).where(Case.item_id == item_ident))
        assert case_id is not None
        clock = FixedClock(datetime.now(UTC))
        decide(
            self.database,
            case_id,
            "rita",
            Decision.CONFIRM_KNOWN,
            settings=self.settings,
            clock=clock,
        )
        complaint = await self.client.post(
            "/v1/complaints",
            json={"complaint_id": "b-complaint", "item_id": "b-item", "grounds": "Mine."},
            headers=self.as_(B),
        )
        assert complaint.status_code == 202, complaint.text
        return {
            "item": item_ident,
            "complaint": complaint.json()["id"],
            "webhook": self.hooks[B],
        }


def b_state(database: Database) -> list[object]:
    """Every row of B's: items, cases, webhooks, complaints, deliveries, takedown requests."""
    rows: list[object] = []
    with database.reader() as session:
        for table in (Item, Case, Webhook, Complaint, WebhookDelivery):
            for row in session.scalars(select(table).where(table.platform == B)):
                rows.append({c.key: getattr(row, c.key) for c in table.__table__.columns})
        b_items = select(Item.id).where(Item.platform == B)
        for takedown in session.scalars(
            select(TakedownRequest).where(TakedownRequest.item_id.in_(b_items))
        ):
            rows.append(
                {c.key: getattr(takedown, c.key) for c in TakedownRequest.__table__.columns}
            )
    return rows


def body_for(method: str, path: str, ids: dict[str, Any]) -> dict[str, Any] | None:
    """A valid request body that names B's objects wherever the route takes a name."""
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/v1/items"): hash_only("b-item", PHOTOS[0]),
        ("POST", "/v1/complaints"): {
            "complaint_id": "b-complaint",
            "item_id": "b-item",
            "grounds": "Mine too.",
        },
        ("POST", "/v1/items/{ident}/takedown-confirmation"): {"action": "removed"},
        ("POST", "/v1/webhooks"): {"url": "https://platform-b.example/hooks"},
        ("POST", "/v1/match"): {"signal_type": "pdq", "value": known_pdq(PHOTOS[0])},
    }
    return bodies.get((method, path), {} if method in ("POST", "PUT", "PATCH") else None)


def same_but_id(answer: httpx.Response, missing: httpx.Response, ident: int) -> bool:
    """Whether two problem answers differ only in the id they name."""
    if answer.status_code != missing.status_code:
        return False
    body = json.dumps(answer.json(), sort_keys=True).replace(str(ident), "ID")
    other = json.dumps(missing.json(), sort_keys=True).replace(str(MISSING), "ID")
    return body == other


def test_every_route_with_an_id_says_whose_object_it_names() -> None:
    # A new route taking an id must be added to OWNER_OF_PATH, and so to the test below.
    assert [path for _, path in KEYED_ROUTES if kind_of(path) == "?"] == []


def test_platform_a_can_read_change_or_delete_nothing_of_platform_b_on_any_route(
    review_db: Node,
) -> None:
    database, settings = review_db
    app = create_app(settings, database=database)

    async def scenario() -> None:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
                platforms = Platforms(database, settings, client)
                ids = await platforms.b_objects()
                before = b_state(database)
                for method, path in KEYED_ROUTES:
                    await try_route(platforms, ids, method, path)
                assert b_state(database) == before, "a request of A's changed B's objects"
                listed = await client.get("/v1/webhooks", headers=platforms.as_(A))
                assert ids["webhook"] not in [hook["id"] for hook in listed.json()]
                theirs = await client.get("/v1/webhooks", headers=platforms.as_(B))
                assert [hook["id"] for hook in theirs.json()] == [ids["webhook"]]

    asyncio.run(scenario())


async def try_route(platforms: Platforms, ids: dict[str, Any], method: str, path: str) -> None:
    """One request of A's aimed at B's objects: refused as if they did not exist."""
    client = platforms.client
    kind = kind_of(path)
    body = body_for(method, path, ids)  # None: no body (httpx's json=None sends none)
    if kind is None:
        answer = await client.request(method, path, headers=platforms.as_(A), json=body)
        assert answer.status_code < 500, (method, path, answer.text)
        if (method, path) == ("POST", "/v1/items"):
            # B's item_id and content, sent by A: A's own new item, not B's.
            assert answer.status_code == 202 and answer.json()["id"] != ids["item"]
        if (method, path) == ("POST", "/v1/complaints"):
            # Not B's complaint: B's item is not found, or (once A sent an item of that id
            # itself) A's own item has no decision yet.
            assert answer.json()["code"] in ("not_found", "conflict"), answer.text
        return
    if kind == "order_item":
        return  # B has no order here; its scoping is tested where orders are
    ident = ids[kind]
    url = re.sub(r"\{[^}]+\}", str(ident), path)
    answer = await client.request(method, url, headers=platforms.as_(A), json=body)
    missing = await client.request(
        method, re.sub(r"\{[^}]+\}", str(MISSING), path), headers=platforms.as_(A), json=body
    )
    assert answer.status_code == 404, (method, path, answer.status_code, answer.text)
    assert answer.json()["code"] == "not_found"
    assert same_but_id(answer, missing, ident), (answer.text, missing.text)


def test_messages_about_an_item_go_only_to_its_platforms_webhooks(review_db: Node) -> None:
    """Verdicts, the takedown request and the complaint's outcome: all to B's endpoint only."""
    database, settings = review_db
    app = create_app(settings, database=database)

    async def scenario() -> Platforms:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
                platforms = Platforms(database, settings, client)
                ids = await platforms.b_objects()
                decide_complaint(database, ids["complaint"], "sami", uphold=False)
                unmatched = {"metadata": {"item_id": "a-item"}, "signals": {"md5": "0" * 32}}
                answer = await client.post("/v1/items", json=unmatched, headers=platforms.as_(A))
                assert answer.status_code == 202
                return platforms

    platforms = asyncio.run(scenario())
    with database.reader() as session:
        sent = session.execute(
            select(WebhookDelivery.webhook_id, WebhookDelivery.platform, WebhookDelivery.body)
        ).all()
    events_to = {
        (hook, json.loads(body)["event"], json.loads(body)["item_id"]) for hook, _, body in sent
    }
    assert events_to == {
        (platforms.hooks[B], "item.verdict", "b-item"),
        (platforms.hooks[B], "takedown.requested", "b-item"),
        (platforms.hooks[B], "complaint.decided", "b-item"),
        (platforms.hooks[A], "item.verdict", "a-item"),
    }
    assert {(hook, owner) for hook, owner, _ in sent} == {
        (platforms.hooks[B], B),
        (platforms.hooks[A], A),
    }


def test_a_key_belongs_to_the_platform_named_or_else_to_one_named_as_itself(
    review_db: Node,
) -> None:
    database, _ = review_db
    create_api_key(database, "photos-app", ["items:read"], platform="photos")
    create_api_key(database, "photos-batch", ["items:write"], platform="photos")
    create_api_key(database, "video", ["items:read"])
    assert {view.name: view.platform for view in list_api_keys(database)} == {
        "photos-app": "photos",
        "photos-batch": "photos",
        "video": "video",
    }


@pytest.mark.empty_database
def test_an_upgrade_puts_existing_keys_items_and_webhooks_in_the_default_platform(
    settings: Settings,
) -> None:
    """A node upgraded in place keeps answering: its old keys see its old items and webhooks."""
    database = open_database(settings, migrate=False)
    try:
        upgrade(database.engine, "0007_sealed_payloads")
        now = datetime.now(UTC)
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO items (item_id, status, metadata, created_at) "
                    "VALUES ('old', 'done', '{}', :now)"
                ),
                {"now": now},
            )
            connection.execute(
                text(
                    "INSERT INTO webhooks (url, secret, active, created_at) "
                    "VALUES ('http://127.0.0.1:9/old', 'a-secret-of-some-length', :yes, :now)"
                ),
                {"now": now, "yes": True},
            )
            connection.execute(
                text(
                    "INSERT INTO api_keys (name, prefix, digest, scopes, created_at) "
                    "VALUES ('old-key', :prefix, :digest, '[\"items:read\"]', :now)"
                ),
                {
                    "prefix": OLD_SECRET[:8],
                    "digest": sha256(OLD_SECRET.encode()).hexdigest(),
                    "now": now,
                },
            )
        database.upgrade()
        old_key = authenticate(database, "tut_" + OLD_SECRET, "items:read")
        assert old_key.platform == DEFAULT_PLATFORM
        with database.reader() as session:
            ident = session.scalar(select(Item.id).where(Item.item_ref == "old"))
        assert ident is not None
        assert get_item(database, ident, platform=DEFAULT_PLATFORM).item_ref == "old"
        assert [hook.url for hook in list_webhooks(database, platform=DEFAULT_PLATFORM)] == [
            "http://127.0.0.1:9/old"
        ]
    finally:
        database.close()
