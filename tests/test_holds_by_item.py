"""An authority's hold (Art 48(6)-(7)) binds the internal item its report was about: another
platform on the same node whose item has the same id text is not held, nor is a later upload
under the same id. Old holds are tied to their item by migration 0022 where it can be done, and
keep the old rule (every item with the id text) where it cannot."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import JSON, Connection, column, insert, inspect, select, table
from sqlalchemy.types import Boolean, Integer, String

from password_hashing import CHEAP
from provider_fixtures import make_bank
from review_fixtures import METADATA, START, _run_detection, add_people, jpeg_bytes, photo
from tutela.auth import passwords
from tutela.clock import FixedClock
from tutela.db.database import Database, open_database
from tutela.db.schema import alembic_config, upgrade
from tutela.db.types import UtcDateTime
from tutela.detection.items import accept_upload, get_item
from tutela.detection.models import Case, Item, WebhookDelivery
from tutela.detection.webhooks import register_webhook
from tutela.enforcement.centre_messages import apply_centre_message
from tutela.enforcement.notices import release_due
from tutela.enforcement.takedown import confirm_takedown, resend_due
from tutela.errors import Conflict
from tutela.master_key import generate_master_key
from tutela.messaging.messages import Message
from tutela.messaging.outbox_models import OutboxMessage
from tutela.messaging.signing import default_key_file, generate_key_file
from tutela.reporting.holds import active_holds, may_notify_user, may_remove
from tutela.reporting.holds_models import Hold
from tutela.review.decisions import Decision, decide
from tutela.settings import Settings

HOUR = timedelta(hours=1)
SAME_ID = "upload-42"
PLATFORMS = ("photos", "videos")
Node = tuple[Database, Settings]


@pytest.fixture
def node(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Node]:
    """A node reporting to a centre (never reached here), holding the astronaut photo in a
    verified bank, with a webhook for each of two platforms (SQLite, and PostgreSQL when set)."""
    passwords._dummy_hash.cache_clear()
    monkeypatch.setattr(passwords, "_hasher", lambda: CHEAP)
    settings = dataclasses.replace(
        settings,
        vault_key=generate_master_key().encode(),
        centre_url="http://centre.invalid",
        takedown_hold_wait_minutes=30,
        notice_silence_months=3,
        provider_name="Example Hosting BV",
        provider_legal_representative="Example Legal Rep GmbH",
        provider_contact="trust@example.org",
        provider_country="NL",
    )
    generate_key_file(default_key_file(settings))
    database = open_database(settings)
    make_bank(database, "known", [photo("astronaut")])
    add_people(database)
    for platform in PLATFORMS:
        register_webhook(
            database,
            f"http://127.0.0.1:9/{platform}",
            "a-webhook-secret-of-length",
            platform=platform,
        )
    try:
        yield database, settings
    finally:
        database.close()
        passwords._dummy_hash.cache_clear()


def confirmed_case(database: Database, settings: Settings, platform: str, clock: FixedClock) -> int:
    """Platform `platform` uploads the banked photo as SAME_ID; a reviewer confirms the case."""
    ident = accept_upload(
        database,
        SAME_ID,
        {**METADATA, "item_id": SAME_ID},
        jpeg_bytes(photo("astronaut")),
        platform=platform,
    ).id
    _run_detection(database, settings)
    case_id = get_item(database, ident, platform=platform).case_id
    assert case_id is not None
    decide(database, int(case_id), "rita", Decision.CONFIRM_KNOWN, settings=settings, clock=clock)
    return ident


def report_key_of(database: Database, item_id: int) -> str:
    """The idempotency key of the centre report about the case of internal item `item_id`."""
    with database.reader() as session:
        for row in session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "report")):
            report = json.loads(row.payload["body"])
            if (
                report["metadata"]["item_id"] == SAME_ID
                and _case_item(database, report["decision"]["case_id"]) == item_id
            ):
                return str(row.idempotency_key)
    raise AssertionError(f"no report about item {item_id}")


def _case_item(database: Database, case_id: int) -> int:
    with database.reader() as session:
        return int(session.scalars(select(Case.item_id).where(Case.id == case_id)).one())


def hold(database: Database, report_key: str, until: datetime, now: datetime) -> dict[str, Any]:
    message = Message(
        "hold",
        f"hold-{report_key}",
        {
            "report_key": report_key,
            "authority": "lea-de",
            "no_removal": True,
            "no_user_notice": True,
            "until": until.isoformat(),
        },
        now.isoformat(),
    )
    with database.unit_of_work() as session:
        return apply_centre_message(session, message, now, max_hold_days=548)


def takedowns_sent(database: Database) -> dict[str, int]:
    """takedown.requested deliveries per platform."""
    sent: dict[str, int] = {}
    with database.reader() as session:
        for platform, body in session.execute(
            select(WebhookDelivery.platform, WebhookDelivery.body)
        ):
            if json.loads(body)["event"] == "takedown.requested":
                sent[platform] = sent.get(platform, 0) + 1
    return sent


def test_a_hold_on_one_platforms_item_leaves_the_other_platforms_same_id_free(node: Node) -> None:
    database, settings = node
    clock = FixedClock(START)
    held_item, free_item = (confirmed_case(database, settings, p, clock) for p in PLATFORMS)
    until = START + timedelta(days=180)

    applied = hold(database, report_key_of(database, held_item), until, clock.now())

    assert applied["applied"] == "hold"
    with database.reader() as session:
        stored = session.scalars(select(Hold)).one()
        assert (stored.item_id, stored.platform, stored.item_ref) == (held_item, "photos", SAME_ID)
        assert not may_remove(session, held_item, clock.now())
        assert not may_notify_user(session, held_item, clock.now())
        assert may_remove(session, free_item, clock.now())
        assert may_notify_user(session, free_item, clock.now())
        assert active_holds(session, free_item, clock.now()) == []
    # The hold wait ends: only the other platform is asked to take its item down.
    clock.advance(timedelta(minutes=30))
    assert resend_due(database, HOUR, clock=clock) == 1
    assert takedowns_sent(database) == {"videos": 1}
    # The held platform may not confirm a removal; the other may.
    with pytest.raises(Conflict):
        confirm_takedown(database, held_item, "apikey:photos", clock=clock)
    assert confirm_takedown(database, free_item, "apikey:videos", clock=clock).state == "confirmed"
    # After the silence period, only the other platform's user is told.
    clock.advance(timedelta(days=95))
    assert release_due(database, clock=clock) == 1
    with database.reader() as session:
        bodies = [
            (platform, json.loads(body))
            for platform, body in session.execute(
                select(WebhookDelivery.platform, WebhookDelivery.body)
            )
        ]
    assert [p for p, b in bodies if b["event"] == "user_notice.released"] == ["videos"]


def test_a_later_upload_under_the_held_id_is_not_held(node: Node) -> None:
    database, settings = node
    clock = FixedClock(START)
    held_item = confirmed_case(database, settings, "photos", clock)
    hold(database, report_key_of(database, held_item), START + timedelta(days=90), clock.now())
    later = accept_upload(database, SAME_ID, {"item_id": SAME_ID}, jpeg_bytes(photo("coffee")))
    with database.reader() as session:
        assert later.id != held_item
        assert may_remove(session, later.id, clock.now())
        assert not may_remove(session, held_item, clock.now())


# -- migration 0022: old holds --------------------------------------------------------------

T0 = datetime(2025, 1, 1, tzinfo=UTC)
ITEMS = table(
    "items",
    column("id", Integer),
    column("platform", String),
    column("item_id", String),
    column("content_digest", String),
    column("status", String),
    column("metadata", JSON),
    column("created_at", UtcDateTime),
)
CASES = table(
    "cases",
    column("id", Integer),
    column("platform", String),
    column("item_id", Integer),
    column("status", String),
    column("priority", Integer),
    column("evidence", JSON),
    column("created_at", UtcDateTime),
)
OUTBOX = table(
    "outbox_messages",
    column("destination", String),
    column("kind", String),
    column("payload", JSON),
    column("idempotency_key", String),
    column("status", String),
    column("attempts", Integer),
    column("next_attempt_at", UtcDateTime),
    column("created_at", UtcDateTime),
    column("status_changed_at", UtcDateTime),
)
HOLDS = table(
    "reporting_holds",
    column("message_key", String),
    column("report_key", String),
    column("item_ref", String),
    column("authority", String),
    column("no_user_notice", Boolean),
    column("no_removal", Boolean),
    column("until", UtcDateTime),
    column("received_at", UtcDateTime),
)


def _item(connection: Connection, ident: int, platform: str, text: str, case: bool) -> None:
    connection.execute(
        insert(ITEMS),
        {
            "id": ident,
            "platform": platform,
            "item_id": text,
            "content_digest": f"{ident:064x}",
            "status": "done",
            "metadata": {},
            "created_at": T0,
        },
    )
    if case:
        connection.execute(
            insert(CASES),
            {
                "id": ident,
                "platform": platform,
                "item_id": ident,
                "status": "confirmed",
                "priority": 1,
                "evidence": [],
                "created_at": T0,
            },
        )


def _report(connection: Connection, key: str, case_id: int) -> None:
    body = json.dumps({"report_id": key, "decision": {"case_id": case_id}})
    connection.execute(
        insert(OUTBOX),
        {
            "destination": "centre",
            "kind": "report",
            "payload": {"body": body, "key_id": "k", "signature": "s"},
            "idempotency_key": key,
            "status": "delivered",
            "attempts": 1,
            "next_attempt_at": T0,
            "created_at": T0,
            "status_changed_at": T0,
        },
    )


def _old_hold(connection: Connection, name: str, report_key: str, item_ref: str) -> None:
    connection.execute(
        insert(HOLDS),
        {
            "message_key": name,
            "report_key": report_key,
            "item_ref": item_ref,
            "authority": "lea-de",
            "no_user_notice": True,
            "no_removal": True,
            "until": T0 + timedelta(days=365),
            "received_at": T0,
        },
    )


@pytest.mark.empty_database
def test_the_migration_ties_old_holds_to_their_items_and_keeps_the_rest_working(
    settings: Settings,
) -> None:
    database = open_database(settings, migrate=False)
    try:
        upgrade(database.engine, "0021_video")
        with database.engine.begin() as connection:
            # Two platforms reported the same id text; the report of platform a's case is kept.
            _item(connection, 1, "a", "shared", case=True)
            _item(connection, 2, "b", "shared", case=True)
            _report(connection, "report-1", case_id=1)
            _old_hold(connection, "by-report", "report-1", "shared")
            # Its report is gone, but one reported item has the id text.
            _item(connection, 3, "a", "single", case=True)
            _item(connection, 4, "b", "single", case=False)
            _old_hold(connection, "by-text", "report-gone", "single")
            # Its report is gone and two reported items have the id text: kept as it was.
            _item(connection, 5, "a", "twice", case=True)
            _item(connection, 6, "b", "twice", case=True)
            _old_hold(connection, "unresolved", "report-gone-too", "twice")
        database.upgrade()
        with database.reader() as session:
            tied = {h.message_key: (h.item_id, h.platform) for h in session.scalars(select(Hold))}
            assert tied == {
                "by-report": (1, "a"),
                "by-text": (3, "a"),
                "unresolved": (None, None),
            }
            now = T0 + timedelta(days=1)
            held = {ident for ident in range(1, 7) if not may_remove(session, ident, now)}
            # 2 is platform b's item with a's id text: no longer held. 5 and 6 keep the old rule.
            assert held == {1, 3, 5, 6}
            assert session.scalar(select(Item.id).where(Item.id == 4)) == 4
    finally:
        database.close()


def test_the_migration_downgrades_to_the_old_rule(settings: Settings) -> None:
    database = open_database(settings)
    try:
        command.downgrade(alembic_config(database.engine), "0021_video")
        columns = {c["name"] for c in _inspect_columns(database, "reporting_holds")}
        assert "item_id" not in columns and "item_ref" in columns
        database.upgrade()
        columns = {c["name"] for c in _inspect_columns(database, "reporting_holds")}
        assert {"item_id", "platform", "item_ref"} <= columns
    finally:
        database.close()


def _inspect_columns(database: Database, name: str) -> list[dict[str, Any]]:
    return [dict(c) for c in inspect(database.engine).get_columns(name)]
