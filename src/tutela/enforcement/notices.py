"""User notices: what the platform must tell its user about a decision, held in a queue while a
silence period runs and then released through the platform webhook.

Art 12(2): the user is told about a report only after 3 months (configurable), or earlier when
the Centre says so (e.g. the report was manifestly unfounded); an authority may ask for longer
(Art 48(6)-(7), read through `reporting.holds`), and removal orders may carry a non-disclosure
period (Art 15(4)), both of which extend the hold.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.audit.log import SYSTEM, Subject, record
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.detection.webhooks import enqueue_platform_event
from tutela.enforcement.measure_models import NoticeState, UserNotice
from tutela.errors import InvalidInput, NotFound
from tutela.reporting.holds import active_holds, may_notify_user

EVENT = "user_notice.released"
SILENCE_REASON = "Art 12(2): silence period after a report to the EU Centre"
BATCH = 200


@dataclass(frozen=True, slots=True)
class NoticeView:
    id: int
    case_id: int
    item_ref: str
    kind: str
    state: str
    hold_until: datetime
    hold_reason: str
    released_at: datetime | None

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "case_id": self.case_id,
            "item_ref": self.item_ref,
            "kind": self.kind,
            "state": self.state,
            "hold_until": self.hold_until.isoformat(),
            "hold_reason": self.hold_reason,
            "released_at": self.released_at.isoformat() if self.released_at else None,
        }


def add_months(at: datetime, months: int) -> datetime:
    """The same day `months` later (the month's last day when it is shorter)."""
    month_index = at.month - 1 + months
    year, month = at.year + month_index // 12, month_index % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def hold_notice(
    session: Session,
    *,
    case_id: int,
    item_id: int,
    item_ref: str,
    kind: str,
    body: dict[str, Any],
    now: datetime,
    silence_months: int,
) -> UserNotice:
    """Queue a notice inside the decision's transaction, held for the silence period."""
    row = UserNotice(
        case_id=case_id,
        item_id=item_id,
        item_ref=item_ref,
        kind=kind,
        body=body,
        state=NoticeState.HELD,
        hold_until=add_months(now, silence_months),
        hold_reason=SILENCE_REASON,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def release_due(database: Database, *, clock: Clock | None = None, actor: str = SYSTEM) -> int:
    """Release every held notice whose silence ran out and that no authority still holds;
    return how many were released. Run by `tutela notices release-due` or a scheduler."""
    now = (clock or SystemClock()).now()
    released = 0
    with database.unit_of_work() as session:
        due = session.scalars(
            select(UserNotice)
            .where(UserNotice.state == NoticeState.HELD, UserNotice.hold_until <= now)
            .order_by(UserNotice.hold_until)
            .limit(BATCH)
            .with_for_update()
        ).all()
        for row in due:
            if not may_notify_user(session, row.item_id, now):
                holds = active_holds(session, row.item_id, now)
                row.hold_until = max(h.until for h in holds if h.no_user_notice)
                row.hold_reason = "Art 48(6): an authority asked for silence"
                continue
            row.state = NoticeState.RELEASED
            row.released_at = now
            message = {"event": EVENT, "notice_id": row.id, "id": row.item_id}
            enqueue_platform_event(session, row.item_id, {**message, **row.body})
            record(
                session,
                actor,
                "notice_release",
                Subject("case", str(row.case_id)),
                {"notice_id": row.id, "kind": row.kind},
                now=now,
            )
            released += 1
    return released


def set_hold(
    database: Database,
    case_id: int,
    until: datetime,
    reason: str,
    actor: str,
    *,
    clock: Clock | None = None,
) -> list[NoticeView]:
    """Move the end of the silence for a case's held notices: earlier when the Centre gives its
    word (Art 12(2)), later for a non-disclosure period (Art 15(4)). The reason is audited."""
    if until.tzinfo is None:
        raise InvalidInput("the end of a hold needs a time zone")
    if not reason.strip():
        raise InvalidInput("say why the silence changes (it is audited)")
    now = (clock or SystemClock()).now()
    with database.unit_of_work() as session:
        rows = session.scalars(
            select(UserNotice).where(
                UserNotice.case_id == case_id, UserNotice.state == NoticeState.HELD
            )
        ).all()
        if not rows:
            raise NotFound(f"case {case_id} has no held notice")
        for row in rows:
            row.hold_until, row.hold_reason = until, reason.strip()
        record(
            session,
            actor,
            "notice_hold",
            Subject("case", str(case_id)),
            {"until": until.isoformat(), "reason": reason.strip()},
            now=now,
        )
        return [view_of(row) for row in rows]


def withdraw_notices(session: Session, case_id: int) -> int:
    """Drop a case's held notices (its decision was reversed, there is nothing to tell)."""
    rows = session.scalars(
        select(UserNotice).where(
            UserNotice.case_id == case_id, UserNotice.state == NoticeState.HELD
        )
    ).all()
    for row in rows:
        row.state = NoticeState.WITHDRAWN
    return len(rows)


def notices_of_case(session: Session, case_id: int) -> list[NoticeView]:
    rows = session.scalars(
        select(UserNotice).where(UserNotice.case_id == case_id).order_by(UserNotice.id)
    )
    return [view_of(row) for row in rows]


def view_of(row: UserNotice) -> NoticeView:
    return NoticeView(
        row.id,
        row.case_id,
        row.item_ref,
        row.kind,
        row.state,
        row.hold_until,
        row.hold_reason,
        row.released_at,
    )
