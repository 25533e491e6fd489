"""Takedown requests: a confirmed case asks the platform, by signed webhook, to remove the item,
and asks again (backing off) until the platform confirms the removal.

The request travels through the detection webhook outbox, so it commits with the decision and is
delivered at least once (DESIGN rule 4); the platform de-duplicates on `takedown_id`.

Holds (Art 48(6)-(7)): a law-enforcement authority that receives the forwarded report may ask,
through the Centre, that the provider neither remove the item nor tell the user, for up to 18
months, so that an investigation is not tipped off. Three rules follow:
- a takedown of a reported case waits `TUTELA_TAKEDOWN_HOLD_WAIT_MINUTES` before it is sent, so
  that a hold asked for while the Centre forwards the report arrives before the removal does;
- a hold that arrives after the request left is passed on at once (`takedown.held` webhook: keep
  the content and the account as they are, tell the user nothing), and the request is sent again
  when the hold ends;
- a removal the platform confirms while a hold runs is refused (409, naming the hold's end),
  unless the platform says it removed the item before the hold reached this node: that removal
  happened, and the report must say so (Art 13(1)(i)), so it is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.audit.log import Subject, record
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.detection.webhooks import enqueue_platform_event
from tutela.enforcement.measure_models import TakedownRequest, TakedownState
from tutela.errors import Conflict, NotFound
from tutela.reporting.holds import active_holds, may_remove
from tutela.reporting.report_updates import FollowUps, queue_removal_update

EVENT = "takedown.requested"
HELD_EVENT = "takedown.held"
MAX_RESEND = timedelta(hours=24)
# Account measures a confirmed case recommends to the platform (Annex III "measures taken").
SUSPEND_ACCOUNT = "suspend_account"


@dataclass(frozen=True, slots=True)
class TakedownView:
    id: int
    case_id: int
    item_id: int
    item_ref: str
    state: str
    sends: int
    requested_at: datetime
    confirmed_at: datetime | None

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "case_id": self.case_id,
            "item_id": self.item_id,
            "item_ref": self.item_ref,
            "state": self.state,
            "sends": self.sends,
            "requested_at": self.requested_at.isoformat(),
            "confirmed_at": self.confirmed_at.isoformat() if self.confirmed_at else None,
        }


def request_takedown(
    session: Session,
    *,
    case_id: int,
    item_id: int,
    item_ref: str,
    now: datetime,
    resend_after: timedelta,
    account_action: str = SUSPEND_ACCOUNT,
    wait: timedelta = timedelta(0),
) -> TakedownRequest:
    """Queue the request inside the decision's transaction; sent after `wait` (the hold wait
    of a reported case), held while an authority's hold on removal runs, sent when it ends."""
    row = TakedownRequest(
        case_id=case_id,
        item_id=item_id,
        item_ref=item_ref,
        state=TakedownState.REQUESTED,
        account_action=account_action,
        sends=0,
        requested_at=now,
    )
    session.add(row)
    session.flush()
    if wait > timedelta(0):
        row.state, row.next_send_at = TakedownState.WAITING, now + wait
    else:
        _send_or_hold(session, row, now, resend_after)
    return row


def confirm_takedown(
    database: Database,
    item_id: int,
    actor: str,
    *,
    removed_at: datetime | None = None,
    action: str = "removed",
    clock: Clock | None = None,
    follow_ups: FollowUps | None = None,
) -> TakedownView:
    """The platform says it removed (or disabled) the item; repeats change nothing. Conflict
    while an authority's hold on removal runs (see the module's docstring).

    With `follow_ups` (a node that reports to the EU Centre), a case already reported there
    gets a signed report update saying it was removed (Art 13(1)(i))."""
    now = (clock or SystemClock()).now()
    with database.unit_of_work() as session:
        row = session.scalar(
            select(TakedownRequest)
            .where(TakedownRequest.item_id == item_id)
            .order_by(TakedownRequest.id.desc())
            .with_for_update()
        )
        if row is None:
            raise NotFound(f"no takedown was requested for item {item_id}")
        if row.state != TakedownState.CONFIRMED:
            when = removed_at or now
            _refuse_during_hold(session, row.item_id, when, now)
            row.state = TakedownState.CONFIRMED
            row.confirmed_at = now
            row.next_send_at = None
            row.confirmation = {"action": action, "removed_at": when.isoformat()}
            detail: dict[str, Any] = {"takedown_id": row.id, "action": action, "sends": row.sends}
            if follow_ups is not None:
                update = queue_removal_update(
                    session, follow_ups.key, follow_ups.report_key(row.case_id), when, action, now
                )
                if update is not None:
                    detail["report_update"] = update.id
            record(
                session,
                actor,
                "takedown_confirmed",
                Subject("case", str(row.case_id)),
                detail,
                now=now,
            )
        return view_of(row)


def resend_due(database: Database, resend_after: timedelta, *, clock: Clock | None = None) -> int:
    """Send again every unconfirmed request whose wait ran out; return how many were sent."""
    now = (clock or SystemClock()).now()
    with database.unit_of_work() as session:
        due = session.scalars(
            select(TakedownRequest)
            .where(
                TakedownRequest.state.in_(
                    (TakedownState.WAITING, TakedownState.REQUESTED, TakedownState.HELD)
                ),
                TakedownRequest.next_send_at <= now,
            )
            .order_by(TakedownRequest.next_send_at)
            .with_for_update()
        ).all()
        return sum(_send_or_hold(session, row, now, resend_after) for row in due)


def pass_on_hold(session: Session, item_id: int, now: datetime) -> list[int]:
    """A hold on removal reached this node (inside the transaction that records it): stop the
    takedowns of the internal item `item_id`, and tell the platform of each one already sent to
    keep the content and the account as they are. Returns the ids of the takedowns the platform
    is told of."""
    ends = [h.until for h in active_holds(session, item_id, now) if h.no_removal]
    if not ends:
        return []
    until = max(ends)
    told = []
    rows = session.scalars(
        select(TakedownRequest)
        .where(
            TakedownRequest.item_id == item_id,
            TakedownRequest.state.in_(
                (TakedownState.WAITING, TakedownState.REQUESTED, TakedownState.HELD)
            ),
        )
        .with_for_update()
    )
    for row in rows:
        # Sent and not yet held, or held before for less long: the platform must hear of it.
        extended = row.next_send_at is None or row.next_send_at < until
        tell = row.sends > 0 and (
            row.state == TakedownState.REQUESTED or (row.state == TakedownState.HELD and extended)
        )
        row.state, row.next_send_at = TakedownState.HELD, until
        if tell:
            enqueue_platform_event(session, row.item_id, _held_message(row, until, now))
            told.append(row.id)
    return told


def hasten_takedown(session: Session, case_id: int, now: datetime) -> int | None:
    """The Centre passed on a victim's request for removal (Art 21(1)): a takedown of the case
    that is not yet confirmed is sent again now, the remaining hold wait skipped (the Centre, which
    relays authorities' holds, is the one asking). A held takedown stays held: the hold is checked
    again when it is sent. Returns its id, or None when the case has no such takedown."""
    row = session.scalar(
        select(TakedownRequest).where(TakedownRequest.case_id == case_id).with_for_update()
    )
    if row is None or row.state not in (TakedownState.WAITING, TakedownState.REQUESTED):
        return None
    row.next_send_at = now
    return row.id


def takedown_of_case(session: Session, case_id: int) -> TakedownView | None:
    row = session.scalar(select(TakedownRequest).where(TakedownRequest.case_id == case_id))
    return None if row is None else view_of(row)


def cancel_takedown(session: Session, case_id: int) -> bool:
    """Stop asking for removal (a complaint reversed the decision); False if already removed."""
    row = session.scalar(select(TakedownRequest).where(TakedownRequest.case_id == case_id))
    if row is None or row.state == TakedownState.CONFIRMED:
        return False
    row.state = TakedownState.CANCELLED
    row.next_send_at = None
    return True


def view_of(row: TakedownRequest) -> TakedownView:
    return TakedownView(
        row.id,
        row.case_id,
        row.item_id,
        row.item_ref,
        row.state,
        row.sends,
        row.requested_at,
        row.confirmed_at,
    )


def _send_or_hold(
    session: Session, row: TakedownRequest, now: datetime, resend_after: timedelta
) -> int:
    if not may_remove(session, row.item_id, now):
        ends = [h.until for h in active_holds(session, row.item_id, now) if h.no_removal]
        if row.state == TakedownState.REQUESTED and row.sends > 0:
            # A hold recorded without being passed on: the platform still has the request.
            enqueue_platform_event(session, row.item_id, _held_message(row, max(ends), now))
        row.state = TakedownState.HELD
        row.next_send_at = max(ends)
        return 0
    row.state = TakedownState.REQUESTED
    row.sends += 1
    # 1×, 2×, 4× … the configured wait, at most a day: the platform is not flooded.
    wait = min(MAX_RESEND, resend_after * 2 ** (row.sends - 1))
    row.next_send_at = now + wait
    enqueue_platform_event(session, row.item_id, _message(row, now))
    return 1


def _refuse_during_hold(
    session: Session, item_id: int, removed_at: datetime, now: datetime
) -> None:
    holds = [h for h in active_holds(session, item_id, now) if h.no_removal]
    # A removal before the hold reached this node happened in good faith and is recorded.
    binding = [h for h in holds if removed_at >= h.received_at]
    if binding:
        until = max(h.until for h in binding)
        raise Conflict(
            f"an authority's hold on removal runs until {until.isoformat()} (Art 48(6)-(7)): "
            "keep the content as it is; a removal is confirmed after the hold ends"
        )


def _held_message(row: TakedownRequest, until: datetime, now: datetime) -> dict[str, Any]:
    return {
        "event": HELD_EVENT,
        "takedown_id": row.id,
        "id": row.item_id,
        "item_id": row.item_ref,
        "case_id": row.case_id,
        "held_until": until.isoformat(),
        "sent_at": now.isoformat(),
        # Art 48(6)-(7): removing the item or acting on the account would warn the uploader.
        "keep_content": True,
        "keep_account": True,
        "notify_user": False,
    }


def _message(row: TakedownRequest, now: datetime) -> dict[str, Any]:
    return {
        "event": EVENT,
        "takedown_id": row.id,
        "id": row.item_id,
        "item_id": row.item_ref,
        "case_id": row.case_id,
        "send": row.sends,
        "requested_at": row.requested_at.isoformat(),
        "sent_at": now.isoformat(),
        # A recommendation only: the platform decides on the account under its own terms.
        "account_action": {"recommendation": row.account_action},
        # Art 12(2): the user is told later, through a released notice, never by this request.
        "notify_user": False,
        "confirm": f"/v1/items/{row.item_id}/takedown-confirmation",
    }
