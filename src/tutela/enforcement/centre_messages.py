"""What a provider does with a verified message from the centre: record what became of its
report (forwarded, unfounded with reasons, information requested; Art 48(2)-(3)) on the outbox
message, store the holds authorities asked for (Art 48(6)-(7)), and hasten the takedown of an
item a victim asked to have removed (Art 21(1))."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.detection.models import Case, Item
from tutela.enforcement.takedown import hasten_takedown, pass_on_hold
from tutela.errors import InvalidInput, NotFound
from tutela.messaging.canonical import parse_json
from tutela.messaging.messages import Message
from tutela.messaging.outbox import REMOTE_STATUSES, record_remote_status_by_key
from tutela.messaging.outbox_models import OutboxMessage
from tutela.reporting.holds import record_hold

CENTRE = "centre"
HOLD = "hold"
REMOVAL_REQUESTED = "removal_requested"


def apply_centre_message(
    session: Session, message: Message, now: datetime, *, max_hold_days: int
) -> dict[str, Any]:
    """Apply one message inside the caller's transaction; applying it twice changes nothing."""
    payload = message.payload
    report_key = payload.get("report_key")
    if not isinstance(report_key, str) or not report_key:
        raise InvalidInput("a centre message names the report_key of our report")
    if message.kind in REMOTE_STATUSES:
        detail = {k: v for k, v in payload.items() if k not in {"report_key", "provider_id"}}
        centre_id = payload.get("centre_report_id")
        row = record_remote_status_by_key(
            session,
            CENTRE,
            report_key,
            message.kind,
            now,
            detail,
            remote_ref=None if centre_id is None else str(centre_id),
        )
        return {"applied": message.kind, "message_id": row.id}
    if message.kind == HOLD:
        until = _time(payload.get("until"))
        hold = record_hold(
            session,
            message.idempotency_key,
            report_key,
            _reported_item(session, report_key),
            str(payload.get("authority") or ""),
            no_user_notice=bool(payload.get("no_user_notice")),
            no_removal=bool(payload.get("no_removal")),
            until=until,
            now=now,
            max_days=max_hold_days,
        )
        # Art 48(6)-(7): a takedown already on its way is stopped and the platform told.
        held = pass_on_hold(session, hold.item_id, now) if hold.item_id is not None else []
        return {
            "applied": HOLD,
            "hold_id": hold.id,
            "until": hold.until.isoformat(),
            "takedowns_held": held,
        }
    if message.kind == REMOVAL_REQUESTED:
        takedown = hasten_takedown(session, _case_id(session, report_key), now)
        return {"applied": REMOVAL_REQUESTED, "takedown_hastened": takedown}
    raise InvalidInput(f"unknown centre message kind {message.kind!r}")


def _stored_report(session: Session, report_key: str) -> dict[str, Any]:
    """The report we signed under `report_key` (the centre names our reports by it alone)."""
    row = session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.destination == CENTRE, OutboxMessage.idempotency_key == report_key
        )
    )
    if row is None:
        raise NotFound("no report of ours carries that key")
    report = parse_json(str(row.payload.get("body", "")).encode("utf-8"))
    if not isinstance(report, dict):
        raise InvalidInput("our stored report is not an object")
    return report


def _case_id(session: Session, report_key: str) -> int:
    """The case our report under `report_key` was about (the centre never names it)."""
    decision = _stored_report(session, report_key).get("decision")
    case_id = decision.get("case_id") if isinstance(decision, dict) else None
    if not isinstance(case_id, int) or isinstance(case_id, bool):
        raise InvalidInput("our stored report names no case")
    return case_id


def _reported_item(session: Session, report_key: str) -> Item:
    """The internal item our report under `report_key` was about: report → case → item. A hold
    binds this item only, not another platform's item (or a later upload) with the same id."""
    item = session.scalar(
        select(Item)
        .join(Case, Case.item_id == Item.id)
        .where(Case.id == _case_id(session, report_key))
    )
    if item is None:
        raise NotFound("the case our report was about is gone")
    return item


def _time(value: object) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput("a hold's until is an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise InvalidInput("a hold's until needs a time zone")
    return parsed
