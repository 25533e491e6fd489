"""After a confirmation: takedown requests repeated until the platform confirms, user notices held
through the silence period (Art 12(2)), complaints decided by someone else (DSA Art 20)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from provider_fixtures import make_key
from review_fixtures import START, detect, review_db
from tutela.clock import FixedClock
from tutela.db.database import Database
from tutela.detection.models import WebhookDelivery
from tutela.detection.webhooks import register_webhook
from tutela.enforcement.notices import release_due, set_hold
from tutela.enforcement.takedown import confirm_takedown, resend_due
from tutela.errors import Forbidden
from tutela.nodes.provider import create_app
from tutela.review.complaints import decide_complaint, lodge_complaint
from tutela.review.decisions import Decision, decide
from tutela.settings import Settings

__all__ = ["review_db"]
Node = tuple[Database, Settings]
HOUR = timedelta(hours=1)


def events(database: Database) -> list[dict[str, Any]]:
    with database.reader() as session:
        rows = session.scalars(select(WebhookDelivery.body).order_by(WebhookDelivery.id))
        return [json.loads(body) for body in rows]


def confirmed_case(database: Database, settings: Settings, clock: FixedClock) -> int:
    register_webhook(database, "http://127.0.0.1:9/hook", "a-webhook-secret-of-some-length")
    (case_id,) = detect(database, settings, ("astronaut",))
    decide(database, case_id, "rita", Decision.CONFIRM_KNOWN, settings=settings, clock=clock)
    return case_id


def test_takedown_is_requested_again_until_the_platform_confirms(review_db: Node) -> None:
    database, settings = review_db
    clock = FixedClock(START)
    confirmed_case(database, settings, clock)

    def takedowns() -> list[dict[str, Any]]:
        return [e for e in events(database) if e["event"] == "takedown.requested"]

    assert len(takedowns()) == 1

    assert resend_due(database, HOUR, clock=clock) == 0  # not yet due
    clock.advance(HOUR)
    assert resend_due(database, HOUR, clock=clock) == 1
    clock.advance(HOUR)  # the wait doubled: 2 h after the second request
    assert resend_due(database, HOUR, clock=clock) == 0
    clock.advance(HOUR)
    assert resend_due(database, HOUR, clock=clock) == 1
    assert [e["send"] for e in takedowns()] == [1, 2, 3]

    item_id = int(takedowns()[0]["id"])
    view = confirm_takedown(database, item_id, "apikey:platform", clock=clock)
    assert view.state == "confirmed" and view.sends == 3
    clock.advance(timedelta(days=2))
    assert resend_due(database, HOUR, clock=clock) == 0


def test_a_notice_is_held_through_the_silence_period_then_released(review_db: Node) -> None:
    database, settings = review_db
    clock = FixedClock(START)
    confirmed_case(database, settings, clock)

    def released() -> list[dict[str, Any]]:
        return [e for e in events(database) if e["event"] == "user_notice.released"]

    clock.advance(timedelta(days=89))
    assert release_due(database, clock=clock) == 0
    assert not released()
    clock.advance(timedelta(days=3))  # 1 March + 3 months = 1 June
    assert release_due(database, clock=clock) == 1
    assert released()[0]["decision"] == "removed"
    assert release_due(database, clock=clock) == 0  # once only


def test_the_centres_word_ends_the_silence_early(review_db: Node) -> None:
    database, settings = review_db
    clock = FixedClock(START)
    case_id = confirmed_case(database, settings, clock)
    clock.advance(timedelta(days=10))
    set_hold(database, case_id, clock.now(), "Centre: manifestly unfounded", "system", clock=clock)
    assert release_due(database, clock=clock) == 1


def test_a_complaint_is_decided_by_someone_who_took_no_part(review_db: Node) -> None:
    database, settings = review_db
    clock = FixedClock(START)
    case_id = confirmed_case(database, settings, clock)
    complaint, created = lodge_complaint(
        database,
        "c-1",
        "upload-astronaut",
        "This is my own holiday photo.",
        "apikey:p",
        6,
        clock=clock,
    )
    assert created and complaint.case_id == case_id

    with pytest.raises(Forbidden):
        decide_complaint(database, complaint.id, "rita", uphold=True, clock=clock)  # not a senior
    decided = decide_complaint(database, complaint.id, "sena", uphold=True, clock=clock)

    assert decided.state == "upheld"
    outcome = [e for e in events(database) if e["event"] == "complaint.decided"]
    assert outcome[0]["reinstate"] is True
    assert release_due(database, clock=FixedClock(START + timedelta(days=200))) == 0  # withdrawn


def test_a_senior_who_decided_the_case_cannot_decide_its_complaint(review_db: Node) -> None:
    database, settings = review_db
    clock = FixedClock(START)
    (case_id,) = detect(database, settings, ("coffee",))
    decide(database, case_id, "rita", Decision.ESCALATE, settings=settings, clock=clock)
    decide(database, case_id, "sena", Decision.CONFIRM_KNOWN, settings=settings, clock=clock)
    complaint, _ = lodge_complaint(
        database, "c-2", "upload-coffee", "Wrong.", "apikey:p", 6, clock=clock
    )

    with pytest.raises(Forbidden):
        decide_complaint(database, complaint.id, "sena", uphold=False, clock=clock)
    assert (
        decide_complaint(database, complaint.id, "sami", uphold=False, clock=clock).state
        == "rejected"
    )


def test_the_platform_confirms_takedowns_and_sends_complaints_over_the_api(review_db: Node) -> None:
    database, settings = review_db
    # The API reads the system clock: the complaint must fall inside its six months.
    confirmed_case(database, settings, FixedClock(datetime.now(UTC)))
    item_id = next(int(e["id"]) for e in events(database) if e["event"] == "takedown.requested")
    key = make_key(database)
    app = create_app(settings, database=database)

    async def run() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
                auth = {"Authorization": f"Bearer {key}"}
                confirmation = await client.post(
                    f"/v1/items/{item_id}/takedown-confirmation",
                    json={"action": "removed"},
                    headers=auth,
                )
                body = {"complaint_id": "c-9", "item_id": "upload-astronaut", "grounds": "Mine."}
                first = await client.post("/v1/complaints", json=body, headers=auth)
                again = await client.post("/v1/complaints", json=body, headers=auth)
                return confirmation, first, again

    confirmation, first, again = asyncio.run(run())
    assert confirmation.status_code == 200 and confirmation.json()["state"] == "confirmed"
    assert first.status_code == 202 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
