"""The authority console's form issues a detection order: service parts one per line, the kinds
ticked, an end; the order is signed and queued for the provider, and its page shows it in force.
A detection order over 24 months is refused with an error page and nothing queued."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from password_hashing import cheap_argon2  # noqa: F401  (a fixture)
from test_authority_console import PROVIDER, client_of, count, sign_in
from test_authority_console import authority as authority  # a fixture
from tutela.authority.models import IssuedOrder
from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.messaging.outbox_models import OutboxMessage
from tutela.messaging.signing import SigningKey

pytestmark = pytest.mark.usefixtures("cheap_argon2")


def detection_form(days: int) -> dict[str, object]:
    return {
        "provider": PROVIDER,
        "kind": "detection",
        "items": "photos\nalbums",
        "detection_kinds": ["known"],
        "ends": (utc_now() + timedelta(days=days)).date().isoformat(),
        "safeguards": "Placeholder safeguards: every match reviewed by a person.",
        "reasons": "Placeholder reasons.",
    }


def submit(app: FastAPI, form: dict[str, object]) -> tuple[httpx.Response, str]:
    async def work() -> tuple[httpx.Response, str]:
        async with client_of(app) as client:
            csrf = await sign_in(client, "officer-1")
            answer = await client.post("/ui/orders", data={**form, "csrf": csrf})
            if answer.status_code != 303:
                return answer, ""
            return answer, (await client.get(answer.headers["location"])).text

    return asyncio.run(work())


def test_a_case_officer_issues_a_detection_order_through_the_form(
    authority: tuple[FastAPI, Database, SigningKey],
) -> None:
    app, database, _ = authority
    answer, html = submit(app, detection_form(180))
    assert answer.status_code == 303, answer.text
    assert "photos" in html and "albums" in html
    with database.reader() as session:
        order = session.scalars(select(IssuedOrder)).one()
        (queued,) = session.scalars(select(OutboxMessage)).all()
    assert order.kind == "detection"
    document = json.loads(queued.payload["body"])["payload"]
    assert [i["service"] for i in document["items"]] == ["photos", "albums"]
    assert document["kinds"] == document["indicators"] == ["known"]
    assert document["safeguards"].startswith("Placeholder safeguards")


def test_a_detection_order_over_24_months_is_refused_and_nothing_is_queued(
    authority: tuple[FastAPI, Database, SigningKey],
) -> None:
    app, database, _ = authority
    answer, _ = submit(app, detection_form(800))
    assert answer.status_code == 422
    assert "24 months" in answer.text
    assert count(database, OutboxMessage) == 0
