"""Deciding cases: who may decide what, the four-eyes rule, and what a confirmation sets in
motion in the decision's one transaction."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import ColumnElement, func, select

from review_fixtures import detect, detect_hash_only, review_db
from tutela.audit.log import list_entries
from tutela.audit.verify import verify_chain
from tutela.db.database import Database
from tutela.detection.models import Case, ItemPayload, SafeEntry, WebhookDelivery
from tutela.detection.webhooks import register_webhook
from tutela.enforcement.measure_models import TakedownRequest, UserNotice
from tutela.enforcement.vault import Vault
from tutela.enforcement.vault_models import VaultRecord
from tutela.errors import Conflict, Forbidden, Unauthorized
from tutela.review.decisions import Decision, decide
from tutela.settings import Settings

__all__ = ["review_db"]
Node = tuple[Database, Settings]


def count(database: Database, model: type, *where: ColumnElement[bool]) -> int:
    with database.reader() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_confirmation_preserves_the_content_and_leaves_no_plaintext(review_db: Node) -> None:
    database, settings = review_db
    (case_id,) = detect(database, settings, ("astronaut",))
    assert count(database, ItemPayload) == 1  # held for review, not deleted at hashing

    view = decide(database, case_id, "rita", Decision.CONFIRM_KNOWN, settings=settings)

    assert view.status == "confirmed" and view.final
    assert count(database, ItemPayload) == 0
    record_id = view.effects["vault"]["record_id"]
    evidence = Vault.from_settings(settings).open(database, record_id, "user:test", "test")
    assert evidence.content[:3] == b"\xff\xd8\xff"  # the JPEG as uploaded
    assert evidence.metadata["item"]["item_id"] == "upload-astronaut"


def test_confirmation_queues_takedown_and_holds_a_notice_in_one_transaction(
    review_db: Node,
) -> None:
    database, settings = review_db
    register_webhook(database, "http://127.0.0.1:9/hook", "a-webhook-secret-of-some-length")
    (case_id,) = detect(database, settings, ("coffee",))
    before = count(database, WebhookDelivery)

    view = decide(database, case_id, "rita", Decision.CONFIRM_NEW, settings=settings)

    assert view.effects["report"] == {
        "skipped": "TUTELA_CENTRE_URL is not set: no EU Centre to report to"
    }
    assert count(database, TakedownRequest, TakedownRequest.case_id == case_id) == 1
    assert count(database, UserNotice, UserNotice.state == "held") == 1
    assert count(database, WebhookDelivery) == before + 1  # the takedown, not the notice


def test_a_failed_confirmation_records_nothing(review_db: Node) -> None:
    database, settings = review_db
    (case_id,) = detect(database, settings, ("chelsea",))
    # A centre is configured but no signing key exists: the report cannot be filed.
    broken = dataclasses.replace(settings, centre_url="http://centre.invalid")

    with pytest.raises(Exception):  # noqa: B017 (the key file is missing)
        decide(database, case_id, "rita", Decision.CONFIRM_KNOWN, settings=broken)

    assert count(database, ItemPayload) == 1
    assert count(database, VaultRecord) == 0
    with database.reader() as session:
        assert session.get(Case, case_id).status == "open"  # type: ignore[union-attr]


def test_a_hash_only_item_is_confirmed_without_preservation(review_db: Node) -> None:
    database, settings = review_db
    case_id = detect_hash_only(database, settings, "rocket")

    view = decide(database, case_id, "rita", Decision.CONFIRM_KNOWN, settings=settings)

    assert "skipped" in view.effects["vault"]
    assert count(database, VaultRecord) == 0


def test_not_abuse_puts_the_matched_values_on_the_safe_list(review_db: Node) -> None:
    database, settings = review_db
    (case_id,) = detect(database, settings, ("astronaut",))

    view = decide(database, case_id, "rita", Decision.NOT_ABUSE, settings=settings)

    assert view.status == "dismissed"
    assert count(database, SafeEntry, SafeEntry.signal_type == "pdq") == 1
    assert count(database, ItemPayload) == 0


def test_only_a_senior_reviewer_decides_an_escalated_case(review_db: Node) -> None:
    database, settings = review_db
    (case_id,) = detect(database, settings, ("astronaut",))
    decide(database, case_id, "rita", Decision.ESCALATE, settings=settings)

    with pytest.raises(Forbidden):
        decide(database, case_id, "remy", Decision.CONFIRM_KNOWN, settings=settings)
    view = decide(database, case_id, "sena", Decision.CONFIRM_KNOWN, settings=settings)
    assert view.status == "confirmed"


@pytest.mark.parametrize("name", ["aldo", "ada", "cora"])
def test_people_without_a_reviewing_role_cannot_decide(review_db: Node, name: str) -> None:
    database, settings = review_db
    (case_id,) = detect(database, settings, ("coffee",))
    with pytest.raises(Forbidden):
        decide(database, case_id, name, Decision.NOT_ABUSE, settings=settings)


def test_a_name_without_an_active_account_cannot_decide(review_db: Node) -> None:
    database, settings = review_db
    (case_id,) = detect(database, settings, ("coffee",))
    with pytest.raises(Unauthorized, match="no active account is named 'nobody'"):
        decide(database, case_id, "nobody", Decision.NOT_ABUSE, settings=settings)


def test_four_eyes_needs_two_different_reviewers_before_anything_leaves(review_db: Node) -> None:
    database, base = review_db
    settings = dataclasses.replace(base, review_four_eyes=True)
    (case_id,) = detect(database, settings, ("chelsea",))

    first = decide(database, case_id, "rita", Decision.CONFIRM_KNOWN, settings=settings)
    assert first.status == "second_review" and not first.final
    assert count(database, TakedownRequest) == 0 and count(database, VaultRecord) == 0
    with pytest.raises(Conflict):
        decide(database, case_id, "rita", Decision.CONFIRM_KNOWN, settings=settings)
    second = decide(database, case_id, "remy", Decision.CONFIRM_KNOWN, settings=settings)
    assert second.status == "confirmed"
    assert count(database, TakedownRequest) == 1


def test_a_decided_case_cannot_be_decided_again(review_db: Node) -> None:
    database, settings = review_db
    (case_id,) = detect(database, settings, ("rocket",))
    decide(database, case_id, "rita", Decision.NOT_ABUSE, settings=settings)
    with pytest.raises(Conflict):
        decide(database, case_id, "remy", Decision.CONFIRM_KNOWN, settings=settings)


def test_every_decision_is_in_the_audit_log(review_db: Node) -> None:
    database, settings = review_db
    (case_id,) = detect(database, settings, ("coffee",))
    decide(database, case_id, "rita", Decision.ESCALATE, settings=settings, note="unsure")
    decide(database, case_id, "sena", Decision.NOT_ABUSE, settings=settings)
    with database.reader() as session:
        entries = list_entries(session, action="decision")
        assert [e.details["decision"] for e in entries] == ["escalate", "not_abuse"]
        assert all(e.subject is not None and e.subject.id == str(case_id) for e in entries)
        assert verify_chain(session).intact
