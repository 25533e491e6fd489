"""The review queue: undecided cases in the order people should take them, with SLA timers.

Order: urgent first (the platform flagged an imminent threat, Art 13(1)(j)), then cases past their
SLA (aging: a case that waited too long rises above fresher ones), then matches on a verified
list, then the closest match, then the oldest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.auth.roles import Permission, permissions_of
from tutela.auth.users import UserView
from tutela.db.database import Database
from tutela.detection.models import Case, CaseState, Item
from tutela.errors import Forbidden
from tutela.indicators.models import Bank
from tutela.review.models import ReviewDecision
from tutela.settings import Settings

QUEUE_LIMIT = 500
# detection.cases priority numbers → the names SLA settings use.
PRIORITY_NAMES = {1: "action", 2: "close", 3: "far"}
URGENT = "urgent"


@dataclass(frozen=True, slots=True)
class QueueEntry:
    case_id: int
    item_ref: str
    status: str
    priority: str
    verified: bool
    distance: int
    banks: tuple[str, ...]
    created_at: datetime
    due_at: datetime
    overdue: bool
    waited: timedelta

    def sort_key(self) -> tuple[bool, bool, bool, int, datetime]:
        return (
            self.priority != URGENT,
            not self.overdue,
            not self.verified,
            self.distance,
            self.created_at,
        )


def list_queue(
    database: Database, viewer: UserView, settings: Settings, now: datetime
) -> list[QueueEntry]:
    """The cases `viewer` may decide now, in order. Seniors see escalated cases too; a reviewer
    who gave the first confirmation of a four-eyes case does not see it again."""
    statuses = _statuses_for(viewer)
    with database.reader() as session:
        rows = session.execute(
            select(Case, Item.item_ref, Item.meta)
            .join(Item, Item.id == Case.item_id)
            .where(Case.status.in_(statuses))
            .order_by(Case.created_at)
            .limit(QUEUE_LIMIT)
        ).all()
        verified = _verified_banks(session)
        own = _confirmed_by(session, viewer.id, [case.id for case, _, _ in rows])
    sla = dict(settings.review_sla_hours)
    entries = [
        entry_of(case, item_ref, meta, verified, sla, now)
        for case, item_ref, meta in rows
        if case.id not in own
    ]
    return sorted(entries, key=QueueEntry.sort_key)


def entry_of(
    case: Case,
    item_ref: str,
    meta: dict[str, Any] | None,
    verified_banks: set[str],
    sla_hours: dict[str, float],
    now: datetime,
) -> QueueEntry:
    evidence = case.evidence or []
    urgent = bool(((meta or {}).get("extra") or {}).get("urgent"))
    priority = URGENT if urgent else PRIORITY_NAMES.get(case.priority, "far")
    due_at = case.created_at + timedelta(hours=sla_hours.get(priority, 24.0))
    banks = tuple(sorted({str(e.get("bank")) for e in evidence}))
    return QueueEntry(
        case_id=case.id,
        item_ref=item_ref,
        status=case.status,
        priority=priority,
        verified=any(b in verified_banks for b in banks),
        distance=min((int(e.get("distance", 256)) for e in evidence), default=256),
        banks=banks,
        created_at=case.created_at,
        due_at=due_at,
        overdue=now >= due_at,
        waited=now - case.created_at,
    )


def _statuses_for(viewer: UserView) -> tuple[str, ...]:
    granted = permissions_of(viewer.roles)
    if Permission.DECIDE_ESCALATED in granted:
        return (CaseState.ESCALATED, CaseState.OPEN, CaseState.SECOND_REVIEW)
    if Permission.REVIEW in granted:
        return (CaseState.OPEN, CaseState.SECOND_REVIEW)
    raise Forbidden("the review queue is for reviewers")


def _verified_banks(session: Session) -> set[str]:
    return set(session.scalars(select(Bank.name).where(Bank.verified)))


def _confirmed_by(session: Session, user_id: int, case_ids: list[int]) -> set[int]:
    if not case_ids:
        return set()
    rows = session.scalars(
        select(ReviewDecision.case_id).where(
            ReviewDecision.user_id == user_id,
            ReviewDecision.case_id.in_(case_ids),
            ReviewDecision.status_after == CaseState.SECOND_REVIEW,
        )
    )
    return set(rows)
