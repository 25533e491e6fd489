"""Holds an authority puts on a reported item, passed on by the centre (Art 48(6)-(7)): do not
tell the user, do not remove, for at most 18 months. Enforcement asks `active_holds` before it
notifies a user or removes an item."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.errors import InvalidInput
from tutela.reporting.holds_models import Hold


@dataclass(frozen=True, slots=True)
class ActiveHold:
    authority: str
    no_user_notice: bool
    no_removal: bool
    until: datetime


def record_hold(
    session: Session,
    message_key: str,
    report_key: str,
    item_ref: str,
    authority: str,
    *,
    no_user_notice: bool,
    no_removal: bool,
    until: datetime,
    now: datetime,
    max_days: int,
) -> Hold:
    """Store a hold once per centre message; a hold longer than the law allows is cut to the
    limit rather than refused, since refusing would leave the item with no hold at all."""
    if until.tzinfo is None:
        raise InvalidInput("a hold's end needs a time zone")
    if not (no_user_notice or no_removal):
        raise InvalidInput("a hold holds back notification, removal, or both")
    existing = session.scalar(select(Hold).where(Hold.message_key == message_key))
    if existing is not None:
        return existing
    hold = Hold(
        message_key=message_key,
        report_key=report_key,
        item_ref=item_ref,
        authority=authority,
        no_user_notice=no_user_notice,
        no_removal=no_removal,
        until=min(until, now + timedelta(days=max_days)),
        received_at=now,
    )
    session.add(hold)
    session.flush()
    return hold


def active_holds(session: Session, item_ref: str, now: datetime) -> list[ActiveHold]:
    """The holds on the platform's item `item_ref` that still run at `now`."""
    rows = session.scalars(
        select(Hold).where(Hold.item_ref == item_ref, Hold.until > now).order_by(Hold.until)
    )
    return [ActiveHold(h.authority, h.no_user_notice, h.no_removal, h.until) for h in rows]


def may_notify_user(session: Session, item_ref: str, now: datetime) -> bool:
    return not any(h.no_user_notice for h in active_holds(session, item_ref, now))


def may_remove(session: Session, item_ref: str, now: datetime) -> bool:
    return not any(h.no_removal for h in active_holds(session, item_ref, now))
