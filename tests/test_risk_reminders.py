"""Re-assessment reminders (Art 3(4)): due when the period since the last sign-off has passed
(TUTELA_RISK_REASSESS_MONTHS, default 36) or at once after a significant change; an operator
alert while due, gone once a new version is signed off."""

from __future__ import annotations

from datetime import timedelta

import pytest

from test_risk_figures import NOW
from test_risk_versions import CHAT, OFFICER, POLICY, add_officer_and_reviewer, signed_off_chat
from tutela.clock import FixedClock
from tutela.db.database import Database
from tutela.operations.alerts import AlertKind, list_alerts, raise_alerts
from tutela.risk.policy import RiskPolicy
from tutela.risk.register import record_change, save_part, sign_off, start_assessment
from tutela.risk.reminders import CHANGE, PERIOD, reassessments_due
from tutela.settings import Settings


@pytest.fixture
def people(database: Database) -> Database:
    """A compliance officer and a reviewer."""
    return add_officer_and_reviewer(database)


def due_at(database: Database, clock: FixedClock) -> list[tuple[str, str]]:
    with database.reader() as session:
        return [(r.service, r.reason) for r in reassessments_due(session, clock.now())]


def test_nothing_is_due_before_the_period_ends(people: Database) -> None:
    clock = FixedClock(NOW)
    signed_off_chat(people, clock)
    clock.advance(timedelta(days=3 * 365 - 1))
    assert due_at(people, clock) == []


def test_a_reassessment_is_due_when_the_period_passes(people: Database) -> None:
    clock = FixedClock(NOW)
    signed_off_chat(people, clock)
    clock.set(NOW.replace(year=NOW.year + 3))
    assert due_at(people, clock) == [("Example Social", PERIOD)]


def test_the_period_is_a_setting(people: Database) -> None:
    clock = FixedClock(NOW)
    draft, _ = start_assessment(people, "Example Social", OFFICER, clock=clock)
    save_part(people, draft, "chat", CHAT, OFFICER, clock=clock)
    sign_off(people, draft, OFFICER, RiskPolicy(reassess_months=12), clock=clock)
    clock.set(NOW.replace(year=NOW.year + 1))
    assert due_at(people, clock) == [("Example Social", PERIOD)]


def test_a_significant_change_makes_it_due_at_once(people: Database) -> None:
    clock = FixedClock(NOW)
    signed_off_chat(people, clock)
    clock.advance(timedelta(days=40))
    record_change(people, "Example Social", "Live streaming launched in chat", OFFICER, clock=clock)
    assert due_at(people, clock) == [("Example Social", CHANGE)]


def test_signing_off_a_new_version_ends_the_reminder(people: Database) -> None:
    clock = FixedClock(NOW)
    signed_off_chat(people, clock)
    clock.advance(timedelta(days=40))
    record_change(people, "Example Social", "Live streaming launched in chat", OFFICER, clock=clock)
    clock.advance(timedelta(days=1))
    draft, _ = start_assessment(people, "Example Social", OFFICER, clock=clock)
    sign_off(people, draft, OFFICER, POLICY, clock=clock)
    assert due_at(people, clock) == []


def test_a_due_reassessment_is_an_operator_alert_until_signed_off_again(people: Database) -> None:
    clock = FixedClock(NOW)
    signed_off_chat(people, clock)
    clock.set(NOW.replace(year=NOW.year + 3))
    raise_alerts(people, Settings(), clock.now())
    with people.reader() as session:
        (alert,) = list_alerts(session, open_only=True)
    assert alert.kind == AlertKind.RISK_REASSESSMENT_DUE
    assert "risk assessment of Example Social is due" in alert.summary
    draft, _ = start_assessment(people, "Example Social", OFFICER, clock=clock)
    sign_off(people, draft, OFFICER, POLICY, clock=clock)
    raise_alerts(people, Settings(), clock.now())
    with people.reader() as session:
        assert list_alerts(session, open_only=True) == []
