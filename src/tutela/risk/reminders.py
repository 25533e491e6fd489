"""When a service's risk assessment is due again (Art 3(4)): its period since the last sign-off
has run out (TUTELA_RISK_REASSESS_MONTHS), or the officer recorded a significant change since.
The console's register page and the operator's alerts (`tutela status`) both show these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tutela.risk.models import AssessmentState, RiskAssessment, RiskChange

PERIOD = "period_ended"
CHANGE = "significant_change"
SIGNED_OFF = "signed_off"


@dataclass(frozen=True, slots=True)
class Reminder:
    service: str
    assessment_id: int  # the latest signed-off version's
    version: int
    reason: str  # PERIOD or CHANGE
    due_since: datetime

    @property
    def summary(self) -> str:
        if self.reason == CHANGE:
            return (
                f"risk assessment of {self.service} is due: a significant change was recorded "
                f"after version {self.version} was signed off"
            )
        return (
            f"risk assessment of {self.service} is due: version {self.version} was due for "
            f"re-assessment by {self.due_since:%Y-%m-%d}"
        )


@dataclass(frozen=True, slots=True)
class NextDue:
    service: str
    version: int
    reassess_by: datetime


def reassessments_due(session: Session, now: datetime) -> list[Reminder]:
    """One reminder per service whose latest signed-off assessment is due again, by service."""
    due = []
    for row in _latest_signed_off(session):
        assert row.signed_off_at is not None and row.reassess_by is not None
        changed_at = session.scalar(
            select(func.min(RiskChange.recorded_at)).where(
                RiskChange.service == row.service, RiskChange.recorded_at > row.signed_off_at
            )
        )
        if changed_at is not None and changed_at <= now:
            due.append(Reminder(row.service, row.id, row.version, CHANGE, changed_at))
        elif row.reassess_by <= now:
            due.append(Reminder(row.service, row.id, row.version, PERIOD, row.reassess_by))
    return due


def next_due(session: Session) -> list[NextDue]:
    """Per service, when its latest signed-off assessment must be done again."""
    return [
        NextDue(row.service, row.version, row.reassess_by)
        for row in _latest_signed_off(session)
        if row.reassess_by is not None
    ]


def _latest_signed_off(session: Session) -> list[RiskAssessment]:
    newest = (
        select(RiskAssessment.service, func.max(RiskAssessment.version).label("version"))
        .where(RiskAssessment.state == AssessmentState.SIGNED_OFF)
        .group_by(RiskAssessment.service)
        .subquery()
    )
    return list(
        session.scalars(
            select(RiskAssessment)
            .join(
                newest,
                (newest.c.service == RiskAssessment.service)
                & (newest.c.version == RiskAssessment.version),
            )
            .order_by(RiskAssessment.service)
        )
    )
