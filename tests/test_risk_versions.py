"""Versions of a risk assessment: a draft filled by a compliance officer, signed off with its
figures frozen, never changed after; a new version starts from the signed-off one. Each act is
the officer's alone, and leaves one audit entry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from review_fixtures import PASSWORD
from test_risk_figures import NOW, add_reviewer, at, seed_item
from tutela.audit.log import list_entries
from tutela.audit.models import AuditEntry
from tutela.auth.users import create_user
from tutela.clock import FixedClock
from tutela.db.database import Database
from tutela.detection.models import CaseState
from tutela.errors import Conflict, Forbidden, InvalidInput
from tutela.risk.measures import MeasureInput
from tutela.risk.method import RiskLevel
from tutela.risk.models import RiskAssessment, RiskPart
from tutela.risk.policy import RiskPolicy
from tutela.risk.register import (
    add_measure,
    read_assessment,
    save_part,
    sign_off,
    start_assessment,
)

OFFICER = "cora"
CHAT = {
    "direct_messaging": True,
    "image_video_sharing": True,
    "contact_with_strangers": True,
    "age_assurance": "self_declaration",
    "user_reporting": "basic",
    "children_use": "likely",
}
POLICY = RiskPolicy(figure_months=3)


def add_officer_and_reviewer(database: Database) -> Database:
    add_reviewer(database)
    create_user(database, OFFICER, PASSWORD, ["compliance_officer"], actor="test")
    return database


@pytest.fixture
def people(database: Database) -> Database:
    return add_officer_and_reviewer(database)


def signed_off_chat(database: Database, clock: FixedClock) -> int:
    draft, _ = start_assessment(database, "Example Social", OFFICER, clock=clock)
    save_part(database, draft, "chat", CHAT, OFFICER, clock=clock)
    add_measure(
        database,
        draft,
        MeasureInput("age_assurance", "Age estimation at sign-up", "Trust & Safety", part="chat"),
        OFFICER,
        clock=clock,
    )
    sign_off(database, draft, OFFICER, POLICY, clock=clock)
    return draft


def test_a_draft_shows_the_nodes_figures_and_the_level_of_each_part(people: Database) -> None:
    seed_item(people, 1, "chat", at(5), status=CaseState.CONFIRMED, decided_at=at(6))
    clock = FixedClock(NOW)
    draft, created = start_assessment(people, "Example Social", OFFICER, clock=clock)
    save_part(people, draft, "chat", CHAT, OFFICER, clock=clock)
    with people.reader() as session:
        view = read_assessment(session, draft, POLICY, NOW)
    assert created and view.version == 1 and not view.signed_off
    (chat,) = view.evaluation.parts
    assert (chat.figures.matches, chat.figures.confirmed_reports) == (1, 1)
    assert (chat.score.score, chat.score.level) == (14, RiskLevel.HIGH)


def test_a_signed_off_version_cannot_change(people: Database) -> None:
    clock = FixedClock(NOW)
    signed = signed_off_chat(people, clock)
    with pytest.raises(Conflict, match="signed off"):
        save_part(people, signed, "chat", {**CHAT, "live_streaming": True}, OFFICER, clock=clock)
    with pytest.raises(Conflict, match="signed off"):
        add_measure(people, signed, MeasureInput("other", "More", "T&S"), OFFICER, clock=clock)
    with people.reader() as session:
        factors = session.scalars(select(RiskPart.factors)).one()
    assert factors["live_streaming"] is False


def test_sign_off_freezes_the_figures_it_was_signed_with(people: Database) -> None:
    clock = FixedClock(NOW)
    signed = signed_off_chat(people, clock)
    seed_item(people, 9, "chat", NOW - timedelta(days=1), status=CaseState.CONFIRMED)
    with people.reader() as session:
        view = read_assessment(session, signed, POLICY, NOW + timedelta(days=1))
    assert view.evaluation.parts[0].figures.confirmed_reports == 0
    assert view.reassess_by == NOW.replace(year=NOW.year + 3)


def test_a_new_version_starts_from_the_signed_off_one(people: Database) -> None:
    clock = FixedClock(NOW)
    first = signed_off_chat(people, clock)
    clock.advance(timedelta(days=30))
    second, created = start_assessment(people, "Example Social", OFFICER, clock=clock)
    with people.reader() as session:
        view = read_assessment(session, second, POLICY, clock.now())
        base = session.get(RiskAssessment, first)
    assert created and second != first
    assert (view.version, view.based_on_version, view.state) == (2, 1, "draft")
    assert [p.name for p in view.evaluation.parts] == ["chat"]
    assert view.evaluation.parts[0].factors.direct_messaging is True
    assert [m.description for m in view.measures] == ["Age estimation at sign-up"]
    assert base is not None and base.state == "signed_off"


def test_starting_again_while_a_draft_is_open_returns_that_draft(people: Database) -> None:
    clock = FixedClock(NOW)
    draft, _ = start_assessment(people, "Example Social", OFFICER, clock=clock)
    again, created = start_assessment(people, "Example Social", OFFICER, clock=clock)
    assert (again, created) == (draft, False)


def test_an_assessment_without_parts_cannot_be_signed_off(people: Database) -> None:
    clock = FixedClock(NOW)
    draft, _ = start_assessment(people, "Example Social", OFFICER, clock=clock)
    with pytest.raises(InvalidInput, match="at least one service part"):
        sign_off(people, draft, OFFICER, POLICY, clock=clock)


def test_only_a_compliance_officer_fills_the_register_and_a_refusal_writes_nothing(
    people: Database,
) -> None:
    clock = FixedClock(NOW)
    with people.reader() as session:
        entries = session.scalar(select(func.count()).select_from(AuditEntry))
    with pytest.raises(Forbidden, match="compliance officer"):
        start_assessment(people, "Example Social", "rita", clock=clock)
    with people.reader() as session:
        assert session.scalar(select(func.count()).select_from(RiskAssessment)) == 0
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == entries


def test_each_act_leaves_one_audit_entry_naming_the_officer(people: Database) -> None:
    signed_off_chat(people, FixedClock(NOW))
    with people.reader() as session:
        entries = [e for e in list_entries(session, limit=50) if e.action.startswith("risk_")]
    actions = [entry.action for entry in entries]
    officer_actors = {entry.actor for entry in entries}
    assert len(officer_actors) == 1 and officer_actors.pop().startswith("user:")
    assert sorted(actions) == [
        "risk_assessment_start",
        "risk_measure_add",
        "risk_part_save",
        "risk_sign_off",
    ]


def test_a_measure_done_needs_its_date(people: Database) -> None:
    clock = FixedClock(NOW)
    draft, _ = start_assessment(people, "Example Social", OFFICER, clock=clock)
    with pytest.raises(InvalidInput, match="date it was done"):
        add_measure(
            people,
            draft,
            MeasureInput("terms", "New terms", "Legal", status="done"),
            OFFICER,
            clock=clock,
        )
