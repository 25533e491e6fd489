"""A reviewer's confirmation produces a DSA Art 17 statement of reasons: the user's copy held
with the notices through the silence period, the database's copy accepted field by field by the
local Transparency Database and free of personal data."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from dsa_tdb_server import TOKEN, TransparencyDatabase, transparency_database
from review_fixtures import METADATA, PASSWORD, START, detect, review_db
from tutela.audit.log import list_entries
from tutela.auth.csrf import issue_csrf_token
from tutela.auth.sessions import log_in
from tutela.clock import FixedClock
from tutela.db.database import Database
from tutela.detection.models import WebhookDelivery
from tutela.detection.webhooks import register_webhook
from tutela.enforcement.measure_models import UserNotice
from tutela.enforcement.notices import release_due
from tutela.messaging.outbox import deliver_due
from tutela.nodes.provider import create_app
from tutela.reporting.transports.dsa_tdb import DsaTdbTransport
from tutela.review.decisions import Decision, decide
from tutela.review.report_choices import AccountAction, ReportChoices
from tutela.settings import Settings
from tutela.statements.models import Statement
from tutela.statements.recording import statements_of_case
from tutela.ui.access import SESSION_COOKIE

__all__ = ["review_db"]
Node = tuple[Database, Settings]


@pytest.fixture
def tdb() -> Iterator[TransparencyDatabase]:
    with transparency_database() as db:
        yield db


@pytest.fixture
def node(review_db: Node, tdb: TransparencyDatabase) -> Node:
    database, settings = review_db
    return database, dataclasses.replace(settings, dsa_tdb_url=tdb.url, dsa_tdb_token=TOKEN)


def deliver(database: Database, tdb: TransparencyDatabase, clock: FixedClock) -> None:
    with httpx.Client(timeout=10) as client:
        transports = {"dsa-tdb": DsaTdbTransport(tdb.url, TOKEN, client)}
        deliver_due(database, transports, clock.now())


def test_a_confirmation_produces_a_statement_the_database_accepts_field_by_field(
    node: Node, tdb: TransparencyDatabase
) -> None:
    database, settings = node
    (case_id,) = detect(database, settings, ("astronaut",))
    clock = FixedClock(START)

    view = decide(database, case_id, "rita", Decision.CONFIRM_KNOWN, settings=settings, clock=clock)
    deliver(database, tdb, clock)

    (statement,) = statements_of_case(database, case_id)
    assert view.effects["statement"]["puid"] == statement.puid
    assert tdb.calls == [("/api/v1/statement", 201)]
    stored = tdb.stored[statement.puid]
    today = clock.now().date().isoformat()
    assert {
        k: v for k, v in stored.items() if k not in ("uuid", "platform_name", "created_at")
    } == {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
        "decision_account": "DECISION_ACCOUNT_SUSPENDED",
        "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
        "illegal_content_legal_ground": statement.database_copy["illegal_content_legal_ground"],
        "illegal_content_explanation": statement.database_copy["illegal_content_explanation"],
        "category": "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
        "category_specification": ["KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"],
        "content_type": ["CONTENT_TYPE_IMAGE"],
        "territorial_scope": statement.database_copy["territorial_scope"],
        "content_date": "2025-03-01",  # the upload date the platform gave
        "application_date": today,
        "decision_facts": statement.database_copy["decision_facts"],
        "source_type": "SOURCE_VOLUNTARY",
        "automated_detection": "Yes",
        "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
        "puid": statement.puid,
    }
    assert len(stored["territorial_scope"]) == 30  # the EU and the EEA
    assert "matched" in stored["decision_facts"] and "reviewer" in stored["decision_facts"]


def test_no_account_measure_leaves_the_account_out_of_the_statement(
    node: Node, tdb: TransparencyDatabase
) -> None:
    database, settings = node
    (case_id,) = detect(database, settings, ("coffee",))
    clock = FixedClock(START)
    choices = ReportChoices(account_action=AccountAction.NONE)

    decide(database, case_id, "rita", Decision.CONFIRM_NEW, settings=settings, clock=clock,
           choices=choices)  # fmt: skip
    deliver(database, tdb, clock)

    (stored,) = tdb.stored.values()
    assert "decision_account" not in stored
    assert "not listed before" in stored["decision_facts"]


def test_the_database_copy_carries_no_personal_data(node: Node, tdb: TransparencyDatabase) -> None:
    database, settings = node
    (case_id,) = detect(database, settings, ("chelsea",))
    clock = FixedClock(START)

    decide(database, case_id, "rita", Decision.CONFIRM_KNOWN, settings=settings, clock=clock)
    deliver(database, tdb, clock)

    (raw,) = tdb.bodies
    text = raw.decode()
    personal = [str(METADATA[k]) for k in ("account_id", "username", "upload_ip", "upload_port")]
    for value in [*personal, "upload-chelsea", "rita", "known"]:
        assert value not in text
    assert not re.search(r"[\w.+-]+@[\w-]+\.", text)  # no e-mail address
    assert "http" not in text  # no URL at all
    assert not re.search(r"\b\d{1,3}(\.\d{1,3}){3}\b", text)  # no IPv4 address
    statement = json.loads(raw)
    # Random: it links to nothing of the user, the item or the case.
    assert re.fullmatch(r"tutela-sor-[0-9a-f]{32}", statement["puid"])


def test_the_users_copy_is_held_while_the_silence_period_runs(
    node: Node, tdb: TransparencyDatabase
) -> None:
    database, settings = node
    register_webhook(database, "http://127.0.0.1:9/hook", "a-webhook-secret-of-some-length")
    (case_id,) = detect(database, settings, ("rocket",))
    clock = FixedClock(START)
    decide(database, case_id, "rita", Decision.CONFIRM_KNOWN, settings=settings, clock=clock)
    deliver(database, tdb, clock)  # the database copy goes at once: it names no one

    assert len(tdb.stored) == 1
    clock.advance(timedelta(days=80))
    release_due(database, clock=clock)
    with database.reader() as session:
        # The statement rides in the confirmation's own notice: one notice tells the user all.
        (notice,) = [
            n for n in session.scalars(select(UserNotice)) if "statement_of_reasons" in n.body
        ]
        assert notice.state == "held" and notice.kind == "decision"
        sent = [json.loads(d.body) for d in session.scalars(select(WebhookDelivery))]
    assert not any(p.get("event") == "user_notice.released" for p in sent)

    clock.advance(timedelta(days=15))  # three months after the decision
    release_due(database, clock=clock)
    with database.reader() as session:
        bodies = [json.loads(d.body) for d in session.scalars(select(WebhookDelivery))]
    released = [
        p
        for p in bodies
        if p.get("event") == "user_notice.released" and "statement_of_reasons" in p
    ]
    (message,) = released
    copy = message["statement_of_reasons"]
    # DSA Art 17(3)(a)-(f)
    assert copy["item_id"] == "upload-rocket"
    assert copy["restriction"]["content"] == "removed"
    assert copy["restriction"]["account"] == "DECISION_ACCOUNT_SUSPENDED"
    assert copy["facts_and_circumstances"]
    assert copy["automated_means"] == {
        "detection": True,
        "decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
        "text": copy["automated_means"]["text"],
    }
    assert copy["legal_ground"] and copy["explanation"]
    assert copy["contractual_ground"] is None
    assert {r["means"] for r in copy["redress"]} == {
        "internal_complaint",
        "out_of_court_dispute_settlement",
        "judicial_redress",
    }


def test_a_statement_is_audited_with_the_decision(node: Node) -> None:
    database, settings = node
    (case_id,) = detect(database, settings, ("astronaut",))

    decide(database, case_id, "rita", Decision.CONFIRM_KNOWN, settings=settings)

    with database.reader() as session:
        entries = list_entries(session, action="statement_recorded")
    assert len(entries) == 1 and entries[0].subject == ("case", str(case_id))
    assert entries[0].actor.startswith("user:")


def test_a_dismissal_makes_no_statement(node: Node) -> None:
    database, settings = node
    (case_id,) = detect(database, settings, ("astronaut",))

    decide(database, case_id, "rita", Decision.NOT_ABUSE, settings=settings)

    assert statements_of_case(database, case_id) == []


def test_without_a_database_url_the_statement_is_kept_and_nothing_is_queued(
    review_db: Node,
) -> None:
    database, settings = review_db  # TUTELA_DSA_TDB_URL unset
    (case_id,) = detect(database, settings, ("astronaut",))

    decide(database, case_id, "rita", Decision.CONFIRM_KNOWN, settings=settings)

    (statement,) = statements_of_case(database, case_id)
    assert statement.database_state == "not_configured"
    assert statement.outbox_message_id is None
    with database.reader() as session:
        assert session.scalar(select(Statement.notice_id)) is not None


def test_a_decision_through_the_console_route_sends_a_statement_the_database_accepts(
    node: Node, tdb: TransparencyDatabase
) -> None:
    database, settings = node
    (case_id,) = detect(database, settings, ("astronaut",))
    signed = log_in(database, "rita", PASSWORD, None)
    csrf = issue_csrf_token(signed.token)

    async def post_decision() -> httpx.Response:
        app = create_app(settings, database=database, hash_workers=1)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://node") as client,
        ):
            return await client.post(
                f"/ui/cases/{case_id}/decision",
                data={"csrf": csrf, "decision": "confirm_known", "account_action": "none"},
                headers={"Cookie": f"{SESSION_COOKIE}={signed.token}", "X-CSRF-Token": csrf},
            )

    assert asyncio.run(post_decision()).status_code == 303
    deliver(database, tdb, FixedClock(datetime.now(UTC)))  # the console decides on real time

    (statement,) = statements_of_case(database, case_id)
    assert tdb.calls == [("/api/v1/statement", 201)]
    stored = tdb.stored[statement.puid]
    assert stored["category"] == "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
    assert "decision_account" not in stored  # the reviewer chose no account measure
