"""The authority's console answers an impediment: once the provider's signed execution report
names one, the order's page offers a case officer the clarification and the withdrawal; the
answer is signed and queued for the provider's `…/answers`, and the page shows it. A supervisor
may not answer, and an order without an impediment awaits no answer."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from password_hashing import cheap_argon2  # noqa: F401  (a fixture)
from test_authority_console import PROVIDER, PROVIDER_URL, client_of, sign_in
from test_authority_console import authority as authority  # a fixture
from tutela.authority.issuing import Issuer, issue_removal_order
from tutela.authority.models import IssuedOrder
from tutela.authority.reports import receive_execution_report
from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.messaging.messages import sign_message
from tutela.messaging.outbox_models import OutboxMessage
from tutela.messaging.signing import SigningKey, SigningWindow, load_key_file
from tutela.orders.documents import REPORT_KIND, ItemOutcome, execution_report

pytestmark = pytest.mark.usefixtures("cheap_argon2")
ISSUER = Issuer("Example Authority", "orders@authority.example", "NL", "http://a.example", None)


def impeded_order(database: Database, key: SigningKey, provider: SigningKey) -> int:
    """A removal order of one item whose signed report names an impediment; its number."""
    view = issue_removal_order(
        database, "officer-1", PROVIDER, [("item_id", "upload-1")], "Placeholder.", ISSUER, key
    )
    now = utc_now()
    outcome = ItemOutcome(
        "1", "upload-1", "impediment", None, "manifest_error", "Placeholder: not ours."
    )
    report = execution_report(view.order_id, PROVIDER, now - timedelta(hours=1), now, [outcome])
    signed = sign_message(provider, REPORT_KIND, f"report:{view.order_id}", report, now)
    receive_execution_report(
        database, signed.key_id, signed.body, signed.signature, now, SigningWindow()
    )
    return view.id


def post(app: FastAPI, who: str, path: str, form: dict[str, str]) -> tuple[httpx.Response, str]:
    async def work() -> tuple[httpx.Response, str]:
        async with client_of(app) as client:
            csrf = await sign_in(client, who)
            answer = await client.post(path, data={**form, "csrf": csrf})
            page = await client.get(path.rsplit("/", 1)[0])
            return answer, page.text

    return asyncio.run(work())


def test_a_case_officer_clarifies_an_impediment_from_the_orders_page(
    authority: tuple[FastAPI, Database, SigningKey], tmp_path: Path
) -> None:
    app, database, key = authority
    order = impeded_order(database, key, load_key_file(tmp_path / "provider.pem"))
    form = {"answer": "clarification", "clarification": "Placeholder: the public copy."}
    answer, page = post(app, "officer-1", f"/ui/orders/{order}/answer", form)
    assert answer.status_code == 303, answer.text
    assert "answer 1: clarification" in page and "Placeholder: the public copy." in page
    assert 'id="answer-form"' not in page  # answered: nothing more to answer until a report
    with database.reader() as session:
        assert session.get_one(IssuedOrder, order).state == "clarified"
        (queued,) = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "order.impediment_answer")
        ).all()
    assert queued.payload["url"] == PROVIDER_URL + "/answers"
    document = json.loads(queued.payload["body"])["payload"]
    assert (document["answer"], document["items"]) == ("clarification", ["1"])


def test_a_supervisor_may_not_answer_and_an_order_without_impediment_awaits_none(
    authority: tuple[FastAPI, Database, SigningKey], tmp_path: Path
) -> None:
    app, database, key = authority
    order = impeded_order(database, key, load_key_file(tmp_path / "provider.pem"))
    answer, page = post(app, "supervisor-1", f"/ui/orders/{order}/answer", {"answer": "withdrawn"})
    assert answer.status_code == 403
    assert 'id="answer-form"' not in page
    other = issue_removal_order(
        database, "officer-1", PROVIDER, [("item_id", "upload-2")], "Placeholder.", ISSUER, key
    )
    answer, _ = post(app, "officer-1", f"/ui/orders/{other.id}/answer", {"answer": "withdrawn"})
    assert answer.status_code == 409
    with database.reader() as session:
        kinds = session.scalars(select(OutboxMessage.kind)).all()
    assert "order.impediment_answer" not in kinds
