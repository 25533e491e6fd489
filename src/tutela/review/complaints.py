"""Users' complaints about decisions (DSA Art 20): forwarded by the platform, open for six
months after the decision, free, decided by a person who did not take the original decision,
and the outcome (with any reinstatement) goes back to the platform by webhook."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.audit.log import Subject, record, user_actor
from tutela.auth.actors import acting_account
from tutela.auth.platforms import DEFAULT_PLATFORM
from tutela.auth.roles import Permission
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.detection.models import UNDECIDED, Case, CaseState, Item
from tutela.detection.webhooks import enqueue_platform_event
from tutela.enforcement.measure_models import Complaint, ComplaintState
from tutela.enforcement.notices import add_months, withdraw_notices
from tutela.enforcement.takedown import cancel_takedown
from tutela.errors import Conflict, Forbidden, InvalidInput, NotFound
from tutela.reporting.report_updates import FollowUps, queue_retraction
from tutela.review.models import ReviewDecision

EVENT = "complaint.decided"
GROUNDS_MAX = 5000


@dataclass(frozen=True, slots=True)
class ComplaintView:
    id: int
    complaint_ref: str
    case_id: int
    state: str
    grounds: str
    received_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    note: str

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "complaint_id": self.complaint_ref,
            "case_id": self.case_id,
            "state": self.state,
            "received_at": self.received_at.isoformat(),
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
        }


def lodge_complaint(
    database: Database,
    complaint_ref: str,
    item_ref: str,
    grounds: str,
    actor: str,
    settings_months: int,
    *,
    clock: Clock | None = None,
    platform: str = DEFAULT_PLATFORM,
) -> tuple[ComplaintView, bool]:
    """Accept a complaint about the decision on `platform`'s item `item_ref` (its newest item of
    that id with a case); a repeat of `complaint_ref` by the same platform returns the first
    (False: not new). Another platform's items and complaints are not seen."""
    if not complaint_ref or len(complaint_ref) > 256:
        raise InvalidInput("complaint_id must be 1-256 characters")
    if not grounds.strip() or len(grounds) > GROUNDS_MAX:
        raise InvalidInput(f"grounds must be 1-{GROUNDS_MAX} characters")
    now = (clock or SystemClock()).now()
    with database.unit_of_work() as session:
        existing = session.scalar(
            select(Complaint).where(
                Complaint.platform == platform, Complaint.complaint_ref == complaint_ref
            )
        )
        if existing is not None:
            return view_of(existing), False
        case, item = _case_of_item(session, item_ref, platform)
        decided_at = _final_decision_at(session, case)
        # DSA Art 20(1): complaints are open for at least six months after the decision.
        if now > add_months(decided_at, settings_months):
            raise InvalidInput("the time to complain about this decision has run out")
        row = Complaint(
            platform=platform,
            complaint_ref=complaint_ref,
            case_id=case.id,
            item_id=item.id,
            grounds=grounds.strip(),
            state=ComplaintState.OPEN,
            received_at=now,
            note="",
        )
        session.add(row)
        session.flush()
        record(
            session,
            actor,
            "complaint_lodged",
            Subject("complaint", str(row.id)),
            {"case_id": case.id},
            now=now,
        )
        return view_of(row), True


def decide_complaint(
    database: Database,
    complaint_id: int,
    reviewer: str,
    uphold: bool,
    *,
    note: str = "",
    clock: Clock | None = None,
    follow_ups: FollowUps | None = None,
) -> ComplaintView:
    """Decide a complaint. Only a senior reviewer who took no decision on the case may (DSA Art
    20(6): not solely automated, by qualified staff; a second look needs other eyes).

    A reversal withdraws the case's report where it went (`follow_ups`: a node that reports to
    the EU Centre): a signed retraction to the Centre, NCMEC's `/retract` where it was filed."""
    now = (clock or SystemClock()).now()
    with database.unit_of_work() as session:
        user = acting_account(session, reviewer, Permission.DECIDE_ESCALATED)
        row = session.get(Complaint, complaint_id, with_for_update=True)
        if row is None:
            raise NotFound(f"no complaint {complaint_id}")
        if row.state != ComplaintState.OPEN:
            raise Conflict(f"complaint {complaint_id} is already decided ({row.state})")
        deciders = set(
            session.scalars(
                select(ReviewDecision.user_id).where(ReviewDecision.case_id == row.case_id)
            )
        )
        if user.id in deciders:
            raise Forbidden("a complaint is decided by someone who took no part in the decision")
        case = session.get(Case, row.case_id, with_for_update=True)
        assert case is not None
        item = session.get(Item, row.item_id)
        reinstate = bool(uphold and case.status == CaseState.CONFIRMED)
        if reinstate:
            case.status = CaseState.REVERSED
            cancel_takedown(session, case.id)
            withdraw_notices(session, case.id)
        retraction: dict[str, int] = {}
        if reinstate and follow_ups is not None:
            retraction = queue_retraction(
                session, follow_ups.key, follow_ups.report_key(case.id), "complaint_upheld", now
            )
        row.state = ComplaintState.UPHELD if uphold else ComplaintState.REJECTED
        row.decided_by, row.decided_at, row.note = user.name, now, note.strip()
        enqueue_platform_event(
            session,
            row.item_id,
            {
                "event": EVENT,
                "complaint_id": row.complaint_ref,
                "id": row.item_id,
                "item_id": item.item_ref if item is not None else None,
                "outcome": row.state,
                # DSA Art 20(4): a decision found wrong is reversed and the content reinstated.
                "reinstate": reinstate,
                "decided_at": now.isoformat(),
            },
        )
        record(
            session,
            user_actor(user.id),
            "complaint_decision",
            Subject("complaint", str(row.id)),
            {
                "case_id": row.case_id,
                "outcome": row.state,
                "reinstate": reinstate,
                **({"retraction": retraction} if retraction else {}),
            },
            now=now,
        )
        return view_of(row)


def list_complaints(database: Database, state: str = ComplaintState.OPEN) -> list[ComplaintView]:
    with database.reader() as session:
        rows = session.scalars(
            select(Complaint).where(Complaint.state == state).order_by(Complaint.received_at)
        )
        return [view_of(row) for row in rows]


def get_complaint(
    database: Database, complaint_id: int, *, platform: str | None = None
) -> ComplaintView:
    """The complaint; with `platform` (an API key's), another platform's is NotFound as a
    missing one; None is the node's own view (console)."""
    with database.reader() as session:
        row = session.get(Complaint, complaint_id)
        if row is None or (platform is not None and row.platform != platform):
            raise NotFound(f"no complaint {complaint_id}")
        return view_of(row)


def complaints_of_case(session: Session, case_id: int) -> list[ComplaintView]:
    rows = session.scalars(
        select(Complaint).where(Complaint.case_id == case_id).order_by(Complaint.id)
    )
    return [view_of(row) for row in rows]


def view_of(row: Complaint) -> ComplaintView:
    return ComplaintView(
        row.id,
        row.complaint_ref,
        row.case_id,
        row.state,
        row.grounds,
        row.received_at,
        row.decided_by,
        row.decided_at,
        row.note,
    )


def _case_of_item(session: Session, item_ref: str, platform: str) -> tuple[Case, Item]:
    # An item_id may name several items (other content under the same id): the newest with a
    # case is the one a decision was taken on.
    found = session.execute(
        select(Case, Item)
        .join(Item, Item.id == Case.item_id)
        .where(Item.platform == platform, Item.item_ref == item_ref)
        .order_by(Item.id.desc())
        .limit(1)
    ).one_or_none()
    if found is None:
        raise NotFound(f"no decision was taken on item {item_ref!r}")
    return found[0], found[1]


def _final_decision_at(session: Session, case: Case) -> datetime:
    if case.status in UNDECIDED:
        raise Conflict("this item's case is not decided yet")
    at = session.scalar(
        select(ReviewDecision.created_at)
        .where(ReviewDecision.case_id == case.id)
        .order_by(ReviewDecision.id.desc())
    )
    if at is None:
        raise Conflict("this item's case has no decision")
    return at
