"""Reports say what happened and what the reviewer chose (Art 13(1)(f)-(j), Annex III); later
facts and reversals follow as signed updates; takedowns wait for, and obey, authorities' holds
(Art 48(6)-(7))."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from review_fixtures import METADATA, START, _run_detection, jpeg_bytes, photo, review_db
from tutela.audit.log import list_entries
from tutela.clock import FixedClock
from tutela.db.database import Database
from tutela.detection.items import accept_upload, get_item
from tutela.detection.models import Item, WebhookDelivery
from tutela.detection.webhooks import register_webhook
from tutela.enforcement.centre_messages import apply_centre_message
from tutela.enforcement.takedown import confirm_takedown, resend_due
from tutela.errors import Conflict, InvalidInput
from tutela.indicators.models import Bank
from tutela.messaging.messages import Message, open_message
from tutela.messaging.outbox_models import OutboxMessage
from tutela.messaging.signing import (
    default_key_file,
    generate_key_file,
    load_key_file,
    load_public_key,
)
from tutela.reporting.fields import Awareness
from tutela.reporting.report_updates import follow_ups_from
from tutela.review.complaints import decide_complaint, lodge_complaint
from tutela.review.decisions import Decision, decide
from tutela.review.report_choices import AccountAction, ReportChoices
from tutela.settings import Settings

__all__ = ["review_db"]
Node = tuple[Database, Settings]
HOUR = timedelta(hours=1)
REVIEWER_CHOICES = ReportChoices(
    urgent=True,
    urgent_reason="the uploader announces a meeting with the child tomorrow",
    awareness=Awareness.HOTLINE_OR_TRUSTED_FLAGGER,
    account_action=AccountAction.NONE,
    reported_elsewhere=(("Example Hotline", "EH-2025-17"),),
)


@pytest.fixture
def reporting(review_db: Node) -> Node:
    """The review node, reporting to a centre (never reached here) with its own signing key."""
    database, settings = review_db
    settings = dataclasses.replace(
        settings,
        centre_url="http://centre.invalid",
        takedown_hold_wait_minutes=30,
        provider_name="Example Hosting BV",
        provider_legal_representative="Example Legal Rep GmbH",
        provider_contact="trust@example.org",
        provider_country="NL",
    )
    generate_key_file(default_key_file(settings))
    register_webhook(database, "http://127.0.0.1:9/hook", "a-webhook-secret-of-some-length")
    return database, settings


def upload_case(database: Database, settings: Settings, name: str, **meta: Any) -> int:
    ident = accept_upload(
        database,
        f"upload-{name}",
        {"item_id": f"upload-{name}", **METADATA, **meta},
        jpeg_bytes(photo(name)),
    ).id
    _run_detection(database, settings)
    case_id = get_item(database, ident).case_id
    assert case_id is not None
    return int(case_id)


def messages(database: Database, destination: str, kind: str) -> list[OutboxMessage]:
    with database.reader() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.destination == destination, OutboxMessage.kind == kind)
                .order_by(OutboxMessage.id)
            )
        )


def sent_report(database: Database) -> dict[str, Any]:
    (row,) = messages(database, "centre", "report")
    report: dict[str, Any] = json.loads(row.payload["body"])
    return report


def opened(settings: Settings, row: OutboxMessage) -> Message:
    """A queued follow-up, verified against the provider's own public key."""
    key = load_key_file(default_key_file(settings))
    payload = row.payload
    return open_message(
        load_public_key(key.public_key_pem()),
        payload["key_id"],
        payload["body"].encode("utf-8"),
        payload["signature"],
    )


def get_item_id(database: Database, item_ref: str) -> int:
    with database.reader() as session:
        return int(session.scalars(select(Item.id).where(Item.item_ref == item_ref)).one())


def events(database: Database, name: str) -> list[dict[str, Any]]:
    with database.reader() as session:
        bodies = session.scalars(select(WebhookDelivery.body).order_by(WebhookDelivery.id))
        return [e for e in (json.loads(b) for b in bodies) if e["event"] == name]


def confirm(database: Database, settings: Settings, case_id: int, clock: FixedClock) -> None:
    decide(
        database,
        case_id,
        "rita",
        Decision.CONFIRM_KNOWN,
        settings=settings,
        clock=clock,
        choices=REVIEWER_CHOICES,
    )


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


# -- what the report says --------------------------------------------------------------------


def test_the_report_carries_the_reviewers_urgency_awareness_account_action_and_other_reports(
    reporting: Node,
) -> None:
    database, settings = reporting
    confirm(database, settings, upload_case(database, settings, "astronaut"), FixedClock(START))

    report = sent_report(database)
    assert report["urgency"] == {"urgent": True, "reason": REVIEWER_CHOICES.urgent_reason}
    assert report["awareness"] == "hotline_or_trusted_flagger"
    assert report["account_measures"] == ["none"]
    assert report["reported_elsewhere"] == [
        {"organisation": "Example Hotline", "case_number": "EH-2025-17"}
    ]
    assert report["removal"] == {"removed": False}


def test_the_platform_is_asked_for_the_account_action_the_reviewer_chose(reporting: Node) -> None:
    database, settings = reporting
    clock = FixedClock(START)
    confirm(database, settings, upload_case(database, settings, "astronaut"), clock)
    clock.advance(timedelta(minutes=30))
    resend_due(database, HOUR, clock=clock)

    (request,) = events(database, "takedown.requested")
    assert request["account_action"] == {"recommendation": "none"}


def test_awareness_follows_the_platforms_word_on_how_the_item_came(reporting: Node) -> None:
    database, settings = reporting
    case_id = upload_case(database, settings, "coffee", extra={"awareness": "user_notice"})
    decide(database, case_id, "rita", Decision.CONFIRM_KNOWN, settings=settings)

    assert sent_report(database)["awareness"] == "user_notice"


def test_awareness_is_a_detection_order_for_a_match_in_a_bank_tagged_so(reporting: Node) -> None:
    database, settings = reporting
    with database.unit_of_work() as session:
        session.execute(update(Bank).values(tags=["detection_order"]))
    case_id = upload_case(database, settings, "coffee")
    decide(database, case_id, "rita", Decision.CONFIRM_KNOWN, settings=settings)

    assert sent_report(database)["awareness"] == "detection_order"


def test_without_choices_the_report_is_not_urgent_and_the_awareness_is_own_initiative(
    reporting: Node,
) -> None:
    database, settings = reporting
    case_id = upload_case(database, settings, "coffee", extra={"urgent": True})
    decide(database, case_id, "rita", Decision.CONFIRM_KNOWN, settings=settings)

    report = sent_report(database)
    # The platform's flag only pre-selects the console's checkbox; a person decides.
    assert report["urgency"]["urgent"] is False
    assert report["awareness"] == "own_initiative"
    assert report["account_measures"] == ["suspend_account"]


def test_an_urgent_choice_without_its_reason_is_refused() -> None:
    with pytest.raises(InvalidInput):
        ReportChoices(urgent=True, urgent_reason="  ")


def test_a_case_also_filed_with_ncmec_says_so_in_the_report(reporting: Node) -> None:
    database, settings = reporting
    settings = dataclasses.replace(settings, report_ncmec=True)
    case_id = upload_case(database, settings, "coffee")
    decide(database, case_id, "rita", Decision.CONFIRM_KNOWN, settings=settings)

    # NCMEC's report id is not known yet: it follows in an update once NCMEC answers.
    assert sent_report(database)["reported_elsewhere"] == [{"organisation": "NCMEC"}]


def test_a_case_whose_upload_lacks_the_port_is_confirmed_reported_and_taken_down(
    reporting: Node,
) -> None:
    database, settings = reporting
    case_id = upload_case(database, settings, "chelsea", upload_port=None)

    view = decide(database, case_id, "rita", Decision.CONFIRM_KNOWN, settings=settings)

    assert view.status == "confirmed"
    assert view.effects["takedown"]["state"] == "waiting"
    location = sent_report(database)["location"]
    assert location["unavailable"] == ["upload_port"] and "upload_port" not in location


# -- removal confirmed later -----------------------------------------------------------------


def test_a_removal_confirmed_after_the_report_left_follows_as_a_signed_update(
    reporting: Node,
) -> None:
    database, settings = reporting
    clock = FixedClock(START)
    case_id = upload_case(database, settings, "astronaut")
    confirm(database, settings, case_id, clock)
    item_id = get_item_id(database, "upload-astronaut")
    clock.advance(HOUR)

    confirm_takedown(
        database, item_id, "apikey:platform", clock=clock, follow_ups=follow_ups_from(settings)
    )

    (row,) = messages(database, "centre", "report_update")
    update_message = opened(settings, row)
    assert update_message.payload["report_id"] == sent_report(database)["report_id"]
    assert update_message.payload["removal"]["removed"] is True
    assert update_message.payload["removal"]["at"] == clock.now().isoformat()


# -- holds (Art 48(6)-(7)) -------------------------------------------------------------------


def test_a_reported_cases_takedown_waits_before_it_is_sent(reporting: Node) -> None:
    database, settings = reporting
    clock = FixedClock(START)
    confirm(database, settings, upload_case(database, settings, "astronaut"), clock)

    assert resend_due(database, HOUR, clock=clock) == 0
    assert events(database, "takedown.requested") == []
    clock.advance(timedelta(minutes=30))
    assert resend_due(database, HOUR, clock=clock) == 1
    assert len(events(database, "takedown.requested")) == 1


def test_a_hold_arriving_within_the_wait_keeps_the_takedown_from_leaving(reporting: Node) -> None:
    database, settings = reporting
    clock = FixedClock(START)
    confirm(database, settings, upload_case(database, settings, "astronaut"), clock)
    clock.advance(timedelta(minutes=10))
    hold(database, sent_report(database)["report_id"], START + timedelta(days=90), clock.now())

    clock.advance(timedelta(days=30))
    assert resend_due(database, HOUR, clock=clock) == 0
    assert events(database, "takedown.requested") == []
    assert events(database, "takedown.held") == []  # never sent: nothing to take back


def test_a_hold_arriving_after_the_takedown_left_is_passed_on_to_the_platform(
    reporting: Node,
) -> None:
    database, settings = reporting
    clock = FixedClock(START)
    confirm(database, settings, upload_case(database, settings, "astronaut"), clock)
    clock.advance(timedelta(minutes=30))
    resend_due(database, HOUR, clock=clock)
    until = START + timedelta(days=90)

    applied = hold(database, sent_report(database)["report_id"], until, clock.now())

    (held,) = events(database, "takedown.held")
    assert applied["takedowns_held"] == [held["takedown_id"]]
    assert held["held_until"] == until.isoformat()
    assert held["keep_content"] and held["keep_account"] and held["notify_user"] is False
    clock.advance(timedelta(days=30))
    assert resend_due(database, HOUR, clock=clock) == 0  # not asked again while it runs
    clock.advance(timedelta(days=61))
    assert resend_due(database, HOUR, clock=clock) == 1  # asked again when it ends


def test_a_removal_confirmed_during_a_hold_is_refused_naming_the_holds_end(
    reporting: Node,
) -> None:
    database, settings = reporting
    clock = FixedClock(START)
    confirm(database, settings, upload_case(database, settings, "astronaut"), clock)
    until = START + timedelta(days=90)
    hold(database, sent_report(database)["report_id"], until, clock.now())
    clock.advance(HOUR)

    with pytest.raises(Conflict, match=until.isoformat().replace("+", r"\+")):
        confirm_takedown(
            database, get_item_id(database, "upload-astronaut"), "apikey:p", clock=clock
        )


def test_a_removal_made_before_the_hold_reached_the_node_is_recorded(reporting: Node) -> None:
    database, settings = reporting
    clock = FixedClock(START)
    confirm(database, settings, upload_case(database, settings, "astronaut"), clock)
    removed_at = clock.now() + timedelta(minutes=5)
    clock.advance(HOUR)
    hold(database, sent_report(database)["report_id"], START + timedelta(days=90), clock.now())

    view = confirm_takedown(
        database,
        get_item_id(database, "upload-astronaut"),
        "apikey:p",
        removed_at=removed_at,
        clock=clock,
    )
    assert view.state == "confirmed"


# -- a complaint reverses the decision (DSA Art 20(4)) ---------------------------------------


def test_an_upheld_complaint_retracts_the_report_at_the_centre_and_ncmec(reporting: Node) -> None:
    database, settings = reporting
    settings = dataclasses.replace(settings, report_ncmec=True)
    clock = FixedClock(START)
    case_id = upload_case(database, settings, "astronaut")
    confirm(database, settings, case_id, clock)
    complaint, _ = lodge_complaint(
        database, "c-1", "upload-astronaut", "My own photo.", "apikey:p", 6, clock=clock
    )

    decide_complaint(
        database, complaint.id, "sena", True, clock=clock, follow_ups=follow_ups_from(settings)
    )

    report_id = sent_report(database)["report_id"]
    (retraction,) = messages(database, "centre", "report_retraction")
    assert opened(settings, retraction).payload["report_id"] == report_id
    (retract,) = messages(database, "ncmec", "retract")
    assert retract.payload == {"report_key": report_id}
    with database.reader() as session:
        (entry,) = list_entries(session, action="complaint_decision")
    assert entry.details["retraction"] == {"centre": retraction.id, "ncmec": retract.id}


def removal_requested(database: Database, report_key: str, now: datetime) -> dict[str, Any]:
    message = Message(
        "removal_requested",
        f"victim-1-{report_key}",
        {"report_key": report_key, "reason": "a victim asked for removal (Art 21)"},
        now.isoformat(),
    )
    with database.unit_of_work() as session:
        return apply_centre_message(session, message, now, max_hold_days=548)


def test_a_victims_removal_request_from_the_centre_sends_the_waiting_takedown_at_once(
    reporting: Node,
) -> None:
    database, settings = reporting
    clock = FixedClock(START)
    confirm(database, settings, upload_case(database, settings, "astronaut"), clock)
    clock.advance(timedelta(minutes=5))

    answer = removal_requested(database, sent_report(database)["report_id"], clock.now())
    assert answer["applied"] == "removal_requested" and answer["takedown_hastened"] is not None
    assert resend_due(database, HOUR, clock=clock) == 1
    assert len(events(database, "takedown.requested")) == 1


def test_a_victims_removal_request_leaves_a_held_takedown_held(reporting: Node) -> None:
    database, settings = reporting
    clock = FixedClock(START)
    confirm(database, settings, upload_case(database, settings, "astronaut"), clock)
    report_key = sent_report(database)["report_id"]
    hold(database, report_key, START + timedelta(days=90), clock.now())

    assert removal_requested(database, report_key, clock.now())["takedown_hastened"] is None
    clock.advance(timedelta(days=1))
    assert resend_due(database, HOUR, clock=clock) == 0
    assert events(database, "takedown.requested") == []
