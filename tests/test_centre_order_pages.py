"""The centre console's pages of the authority's answers to impediments (copied to the centre at
`POST /v1/orders/answers`): the centre's analysts read every answer's copy and one order's copy
with its answers, every look audited; nobody else is let in. Placeholder orders only."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from order_fixtures import AUTHORITY, removal_order, signed_order, trusted_authority
from report_samples import NOW
from review_fixtures import PASSWORD
from test_centre_console import PEOPLE, centre, client_of, sign_in
from tutela.audit.log import Action, Subject, list_entries, user_actor
from tutela.auth.sessions import log_in
from tutela.auth.users import get_user
from tutela.centre.order_copies import receive_answer_copy, receive_order_copy
from tutela.db.database import Database
from tutela.messaging.messages import sign_message
from tutela.messaging.signing import SigningKey, SigningWindow
from tutela.orders.answer_documents import ANSWER_KIND, AnswerKind, ImpedimentAnswerDocument
from tutela.ui.access import SESSION_COOKIE

__all__ = ["centre"]  # the fixture, from the triage console's tests

CLARIFICATION = "Placeholder clarification: the second item is the copy at the longer URL."
ANALYSTS = {"analyst", "senior_analyst"}


def copy_answer(
    database: Database, key: SigningKey, order_ref: str, number: int, kind: AnswerKind
) -> None:
    answer = ImpedimentAnswerDocument(
        order_id=order_ref,
        number=number,
        kind=kind,
        answered_at=NOW,
        authority_name=AUTHORITY,
        items=("2",),
        clarification=CLARIFICATION if kind == AnswerKind.CLARIFICATION else None,
    )
    message = sign_message(key, ANSWER_KIND, answer.key, answer.document(), NOW)
    receive_answer_copy(
        database, message.key_id, message.body, message.signature, NOW, SigningWindow()
    )


@pytest.fixture
def answered(
    centre: tuple[FastAPI, Database, list[int]], tmp_path: Path
) -> tuple[FastAPI, Database, str, str]:
    """An order copied with a clarification of it, and a withdrawal of an order whose own copy
    has not come."""
    app, database, _ = centre
    key = trusted_authority(database, tmp_path)
    order = removal_order(["upload-1", "upload-2"], NOW - timedelta(minutes=5))
    message = signed_order(key, order, NOW - timedelta(minutes=5))
    receive_order_copy(
        database, message.key_id, message.body, message.signature, NOW, SigningWindow()
    )
    copy_answer(database, key, order.order_id, 1, AnswerKind.CLARIFICATION)
    withdrawn = "00000000-0000-4000-8000-000000000001"
    copy_answer(database, key, withdrawn, 1, AnswerKind.WITHDRAWN)
    return app, database, order.order_id, withdrawn


async def _status_by_person(
    app: FastAPI, database: Database, paths: list[str]
) -> dict[str, list[int]]:
    seen = {}
    for who in ["anonymous", *PEOPLE]:
        async with client_of(app) as client:
            headers = {}
            if who != "anonymous":
                signed = await asyncio.to_thread(log_in, database, who, PASSWORD, None)
                headers["Cookie"] = f"{SESSION_COOKIE}={signed.token}"
            answers = [await client.get(path, headers=headers) for path in paths]
            seen[who] = [answer.status_code for answer in answers]
            if who == "anonymous":
                assert {answer.headers.get("location") for answer in answers} == {"/ui/login"}
    return seen


def test_the_answer_pages_admit_the_centres_analysts_and_nobody_else(
    answered: tuple[FastAPI, Database, str, str],
) -> None:
    app, database, order_ref, _ = answered
    paths = ["/ui/order-answers", f"/ui/order-copies/{order_ref}"]
    seen = asyncio.run(_status_by_person(app, database, paths))
    for who, statuses in seen.items():
        if PEOPLE.get(who) in ANALYSTS:
            assert statuses == [200, 200], who
        elif who == "anonymous":
            assert statuses == [303, 303]
        else:
            assert statuses == [403, 403], who


def test_an_analyst_reads_the_answers_and_an_orders_copy_and_each_look_is_audited(
    answered: tuple[FastAPI, Database, str, str],
) -> None:
    app, database, order_ref, withdrawn = answered

    async def run() -> tuple[httpx.Response, httpx.Response, httpx.Response, httpx.Response]:
        async with client_of(app) as client:
            await sign_in(client, "ana")
            return (
                await client.get("/ui/order-answers"),
                await client.get(f"/ui/order-copies/{order_ref}"),
                await client.get(f"/ui/order-copies/{withdrawn}"),
                await client.get("/ui/order-copies/no-such-order"),
            )

    listing, order, early, missing = asyncio.run(run())
    assert listing.status_code == 200
    rows = re.findall(r'<tr data-href="/ui/order-copies/([^"]+)"', listing.text)
    assert sorted(rows) == sorted([order_ref, withdrawn])
    assert "clarification" in listing.text and "withdrawn" in listing.text
    assert "not yet received" in listing.text  # the withdrawn order's own copy never came
    assert 'href="/ui/order-answers"' in listing.text  # the analysts' navigation leads here
    assert order.status_code == 200
    assert 'id="order-copy"' in order.text and AUTHORITY in order.text
    assert CLARIFICATION in order.text and "(answer 1)" in order.text
    assert early.status_code == 200 and "has not reached the centre yet" in early.text
    assert missing.status_code == 404
    ana = get_user(database, "ana")
    with database.reader() as session:
        entries = list_entries(session, action=Action.VIEW, limit=1000)
    looks = [
        (entry.actor, entry.subject)
        for entry in entries
        if entry.subject is not None and entry.subject.type in ("order_answers", "order_copy")
    ]
    assert looks == [
        (user_actor(ana.id), Subject("order_answers", "-")),
        (user_actor(ana.id), Subject("order_copy", order_ref)),
        (user_actor(ana.id), Subject("order_copy", withdrawn)),
    ]
