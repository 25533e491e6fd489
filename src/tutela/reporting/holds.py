"""Holds an authority puts on a reported item, passed on by the centre (Art 48(6)-(7)): do not
tell the user, do not remove, for at most 18 months. Enforcement asks `active_holds` before it
notifies a user or removes an item.

A hold binds one internal item (`items.id`), the one whose case the report was about: another
platform's item with the same id text, or a later upload under the same id, is not held. Rows
stored before migration 0022 that it could not tie to an item (their report was no longer in the
outbox and their id text named more than one reported item) keep the old rule: they hold every
item whose platform id is their `item_ref`, on every platform. Over-holding is the safe side of
the law for those few rows (a takedown or notice waits, no investigation is tipped off).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from tutela.detection.models import Item
from tutela.errors import InvalidInput
from tutela.reporting.holds_models import Hold


@dataclass(frozen=True, slots=True)
class ActiveHold:
    authority: str
    no_user_notice: bool
    no_removal: bool
    until: datetime
    # When the centre's message reached this node (a removal made before it was in good faith).
    received_at: datetime


def record_hold(
    session: Session,
    message_key: str,
    report_key: str,
    item: Item,
    authority: str,
    *,
    no_user_notice: bool,
    no_removal: bool,
    until: datetime,
    now: datetime,
    max_days: int,
) -> Hold:
    """Store a hold on the internal `item` once per centre message; a hold longer than the law
    allows is cut to the limit rather than refused, since refusing would leave the item with no
    hold at all."""
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
        item_id=item.id,
        platform=item.platform,
        item_ref=item.item_ref,
        authority=authority,
        no_user_notice=no_user_notice,
        no_removal=no_removal,
        until=min(until, now + timedelta(days=max_days)),
        received_at=now,
    )
    session.add(hold)
    session.flush()
    return hold


def active_holds(session: Session, item_id: int, now: datetime) -> list[ActiveHold]:
    """The holds on the internal item `item_id` (items.id) that still run at `now`."""
    rows = session.scalars(
        select(Hold).where(_on_item(item_id), Hold.until > now).order_by(Hold.until)
    )
    return [
        ActiveHold(h.authority, h.no_user_notice, h.no_removal, h.until, h.received_at)
        for h in rows
    ]


def may_notify_user(session: Session, item_id: int, now: datetime) -> bool:
    return not any(h.no_user_notice for h in active_holds(session, item_id, now))


def may_remove(session: Session, item_id: int, now: datetime) -> bool:
    return not any(h.no_removal for h in active_holds(session, item_id, now))


def _on_item(item_id: int) -> ColumnElement[bool]:
    """Holds on the item: its own, and unresolved old rows naming its platform id text."""
    text = select(Item.item_ref).where(Item.id == item_id).scalar_subquery()
    return or_(Hold.item_id == item_id, and_(Hold.item_id.is_(None), Hold.item_ref == text))
