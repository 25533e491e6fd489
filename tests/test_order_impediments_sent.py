"""Issue 14's weak points, closed: an impediment reaches the authority when it is filed (a signed
`order.impediment` through the outbox, taken by the authority node and shown on the order's page
at once, long before the execution report); the authority's answers to impediments are copied to
the EU Centre as its orders are; and the provider, authority and centre nodes take receipt times
from the node's clock (tutela.clock), not the machine's. Both sides share one database and the
documents are handed across as the outbox holds them (test_order_answers' setting)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from order_fixtures import (
    AUTHORITY,
    removal_order,
    signed_order,
    trusted_authority,
    uploads,
)
from password_hashing import cheap_argon2  # noqa: F401  (a fixture)
from provider_fixtures import in_process_client
from test_authority_console import authority_settings, client_of, sign_in
from test_order_answers import T0, WINDOW, Sides, impeded
from tutela.authority.impediment_answers import answer_impediment
from tutela.authority.impediments import receive_impediment
from tutela.authority.reports import show_order
from tutela.centre.order_copies import order_answers, receive_answer_copy
from tutela.clock import FixedClock, utc_now
from tutela.db.database import Database
from tutela.errors import Conflict
from tutela.messaging.messages import sign_message
from tutela.messaging.signing import default_key_file, generate_key_file
from tutela.nodes.authority import create_authority_app
from tutela.nodes.centre import create_centre_app
from tutela.orders.execution import file_impediment
from tutela.orders.impediment_notices import IMPEDIMENT_KIND
from tutela.orders.models import ReceivedOrderItem
from tutela.settings import Settings

pytestmark = pytest.mark.usefixtures("cheap_argon2")
EXPLANATION = "Placeholder: two copies match the order's description."


@pytest.fixture
def sides(database: Database, tmp_path: Any) -> Sides:
    return Sides(database, tmp_path)


def deliver(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    headers = {"Tutela-Key-Id": payload["key_id"], "Tutela-Signature": payload["signature"]}
    return payload["body"].encode(), headers


def test_an_impediment_reaches_the_authority_when_filed_and_its_page_shows_it(
    sides: Sides, settings: Settings
) -> None:
    # This authority app keeps the machine's clock: the documents are signed near its time.
    sides.clock.set(utc_now() - timedelta(hours=1))
    ref, item_ref, payload = filed_impediment(sides, after_receipt=timedelta(hours=1))
    assert payload["url"] == "http://authority.example/v1/order-impediments"
    issued = sides.issued(ref)
    app = create_authority_app(authority_settings(settings), sides.database)

    async def run() -> tuple[list[httpx.Response], httpx.Response]:
        body, headers = deliver(payload)
        async with client_of(app) as client:
            posts = [
                await client.post("/v1/order-impediments", content=body, headers=headers)
                for _ in range(2)
            ]
            await sign_in(client, "officer-1")
            return posts, await client.get(f"/ui/orders/{issued.id}")

    (first, repeat), page = asyncio.run(run())
    assert first.status_code == 201, first.text
    assert repeat.status_code == 201 and repeat.headers["Idempotent-Replayed"] == "true"
    assert repeat.json() == first.json()
    # Shown at once: two items still run on the clock, no execution report has come.
    assert page.status_code == 200
    assert 'id="impediments"' in page.text
    assert "two copies match the order" in page.text
    shown = show_order(sides.database, ref).as_dict()
    assert shown["report_signature"] is None and shown["state"] == "sent"
    [filed] = shown["impediments"]
    assert (filed["item"], filed["impediment"], filed["explanation"]) == (
        item_ref,
        "insufficient_information",
        EXPLANATION,
    )
    assert filed["filed_at"] == sides.clock.now().isoformat() and filed["round"] == 0
    # Another document under the same impediment's id is refused, nothing written.
    other = sign_message(
        sides.provider,
        IMPEDIMENT_KIND,
        payload_key(payload),
        {**payload_document(payload), "explanation": "Another placeholder."},
        sides.clock.now(),
    )
    with pytest.raises(Conflict):
        receive_impediment(
            sides.database,
            other.key_id,
            other.body,
            other.signature,
            sides.clock.now(),
            WINDOW,
        )
    assert len(show_order(sides.database, ref).impediments) == 1


def payload_document(payload: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(payload["body"])["payload"]
    return document


def payload_key(payload: dict[str, Any]) -> str:
    return str(json.loads(payload["body"])["idempotency_key"])


def test_an_answer_to_an_impediment_is_copied_to_the_centre_as_the_order_was(
    sides: Sides, settings: Settings
) -> None:
    ref = impeded(sides)
    answer_impediment(
        sides.database,
        "officer-1",
        ref,
        "withdrawn",
        AUTHORITY,
        sides.authority,
        centre_url="http://centre.example/",
        clock=sides.clock,
    )
    copy = sides.queued(f"copy:answer:{ref}:1")
    assert copy["url"] == "http://centre.example/v1/orders/answers"
    assert copy["body"] == sides.queued(f"answer:{ref}:1")["body"]  # the same signed bytes
    taken = [
        receive_answer_copy(
            sides.database,
            copy["key_id"],
            copy["body"].encode(),
            copy["signature"],
            sides.clock.now(),
            WINDOW,
        )
        for _ in range(2)
    ]
    assert [created for _, created in taken] == [True, False]
    assert taken[0][0] == taken[1][0]
    assert taken[0][0]["order_id"] == ref and taken[0][0]["answer"] == "withdrawn"
    assert order_answers(sides.database, ref) == [taken[0][0]]
    # The centre node takes them over HTTP beside the orders' copies.
    centre = create_centre_app(settings, sides.database, key=sides.authority)
    assert "post" in centre.openapi()["paths"]["/v1/orders/answers"]


def test_the_provider_node_takes_receipts_and_answers_by_its_clock(
    database: Database, settings: Settings, tmp_path: Any
) -> None:
    key = trusted_authority(database, tmp_path)
    generate_key_file(default_key_file(settings))  # the provider's, for the execution report
    items = uploads(database, 2)
    clock = FixedClock(T0 + timedelta(days=400))  # far from the machine's time
    order = removal_order([i.item_ref for i in items], clock.now() - timedelta(minutes=5))
    message = signed_order(key, order, clock.now() - timedelta(minutes=5))

    async def run() -> tuple[httpx.Response, httpx.Response]:
        async with in_process_client(settings, database, clock=clock) as client:
            taken = await client.post(
                "/v1/orders", content=message.body, headers=message.headers("k-1")
            )
            clock.advance(timedelta(hours=2))
            confirm = str(taken.json()["id"])
            done = await client.post(
                f"/v1/orders/{confirm}/items/{items[0].id}/executed", json={"action": "removed"}
            )
            return taken, done

    taken, done = asyncio.run(run())
    assert taken.status_code == 201, taken.text
    received = T0 + timedelta(days=400)
    assert taken.json()["received_at"] == received.isoformat()
    assert taken.json()["deadline_at"] == (received + timedelta(hours=24)).isoformat()
    assert done.status_code == 200, done.text
    assert done.json()["executed_at"] == (received + timedelta(hours=2)).isoformat()


def filed_impediment(
    sides: Sides, *, after_receipt: timedelta = timedelta(0)
) -> tuple[str, str, dict[str, Any]]:
    """An order with its third item impeded (`after_receipt` after the order was received): the
    order's reference, the item's reference in it, and its impediment as the outbox holds it."""
    ref = sides.issue()
    order = sides.received(ref)
    sides.clock.advance(after_receipt)
    third = sides.items[2]
    file_impediment(
        sides.database,
        order.id,
        third.id,
        "test",
        sides.provider,
        platform=None,
        reason="insufficient_information",
        explanation=EXPLANATION,
        clock=sides.clock,
    )
    with sides.database.reader() as session:
        item_ref = session.scalars(
            select(ReceivedOrderItem.ref).where(ReceivedOrderItem.item_id == third.id)
        ).one()
    return ref, item_ref, sides.queued(f"impediment:{ref}:0:{item_ref}")


def test_the_authority_node_takes_receipts_by_its_clock(sides: Sides, settings: Settings) -> None:
    # The documents are signed at T0, far from the machine's time: only the node's clock
    # takes them inside the signing window, and stamps their receipt.
    ref, _, payload = filed_impediment(sides)
    sides.clock.advance(timedelta(minutes=3))
    app = create_authority_app(authority_settings(settings), sides.database, clock=sides.clock)

    async def run() -> httpx.Response:
        body, headers = deliver(payload)
        async with client_of(app) as client:
            return await client.post("/v1/order-impediments", content=body, headers=headers)

    taken = asyncio.run(run())
    assert taken.status_code == 201, taken.text
    assert taken.json()["received_at"] == sides.clock.now().isoformat()
    [filed] = show_order(sides.database, ref).impediments
    assert filed["received_at"] == sides.clock.now().isoformat()


def test_the_centre_node_takes_answer_copies_by_its_clock(sides: Sides, settings: Settings) -> None:
    ref = impeded(sides)
    answer_impediment(
        sides.database,
        "officer-1",
        ref,
        "withdrawn",
        AUTHORITY,
        sides.authority,
        centre_url="http://centre.example/",
        clock=sides.clock,
    )
    copy = sides.queued(f"copy:answer:{ref}:1")
    sides.clock.advance(timedelta(minutes=7))
    centre = create_centre_app(settings, sides.database, key=sides.authority, clock=sides.clock)

    async def run() -> httpx.Response:
        body, headers = deliver(copy)
        async with client_of(centre) as client:
            return await client.post("/v1/orders/answers", content=body, headers=headers)

    taken = asyncio.run(run())
    assert taken.status_code == 201, taken.text
    assert taken.json()["received_at"] == sides.clock.now().isoformat()
    [kept] = order_answers(sides.database, ref)
    assert kept["received_at"] == sides.clock.now().isoformat()
