"""Alerts to the operator: floods, messages that failed for good, breached review SLAs, overdue
deadlines and removal orders escalating (50 % and 90 % of their time, then overdue). Each is derived from the state of the node by `raise_alerts`, which the sender runs
every half minute (and `tutela status` before it reports): a condition raises one alert row, which
resolves itself when the condition clears and opens again if it recurs. An alert raised or opened
again also queues a signed webhook to the operator on the outbox, in the same transaction, so it
is sent at least once (tutela.operations.operator_webhook)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tutela.audit.log import Subject, record, user_actor
from tutela.auth.roles import Permission, require_permission
from tutela.auth.users import UserView
from tutela.db.database import Database
from tutela.detection.models import (
    UNDECIDED,
    Case,
    DeliveryState,
    FloodAlert,
    Item,
    Webhook,
    WebhookDelivery,
)
from tutela.enforcement.measure_models import (
    NoticeState,
    TakedownRequest,
    TakedownState,
    UserNotice,
)
from tutela.errors import InvalidInput, NotFound
from tutela.messaging.outbox import enqueue
from tutela.messaging.outbox_models import MessageStatus, OutboxMessage
from tutela.operations.models import OperatorAlert
from tutela.orders.escalation import escalated
from tutela.review.queues import PRIORITY_NAMES, URGENT
from tutela.risk.reminders import reassessments_due
from tutela.settings import Settings

log = logging.getLogger("tutela.alerts")

# The outbox destination of the operator's alert webhook (see operator_webhook).
ALERT_DESTINATION = "operator-alerts"
ALERT_EVENT = "alert.raised"
ACKNOWLEDGE_ACTION = "alert_acknowledge"
# A takedown the platform has not confirmed a day after it was asked (the resends double up to a
# day, tutela.enforcement.takedown) is overdue: the content may still be online.
TAKEDOWN_CONFIRM_WITHIN = timedelta(hours=24)
# A held notice is released within a minute of its hold ending by the timed step; an hour later it
# means that step is not running.
NOTICE_RELEASE_WITHIN = timedelta(hours=1)
# Cases read per scan to find breached SLAs; the oldest come first, so none is missed for long.
SLA_SCAN_LIMIT = 5000


class AlertKind(StrEnum):
    FLOOD = "flood"
    OUTBOX_FAILED = "outbox_failed"
    WEBHOOK_FAILED = "webhook_failed"
    SLA_BREACH = "sla_breach"
    DEADLINE_OVERDUE = "deadline_overdue"
    RISK_REASSESSMENT_DUE = "risk_reassessment_due"
    ORDER_ESCALATION = "order_escalation"


@dataclass(frozen=True, slots=True)
class Condition:
    """Something that is wrong now. `count` grows when more of it goes wrong (more failed
    deliveries to one endpoint, more overdue cases): an acknowledged alert then opens again."""

    kind: AlertKind
    subject: Subject
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    count: int = 1
    # False where the webhook would report its own failure to itself.
    notify: bool = True


@dataclass(frozen=True, slots=True)
class AlertView:
    id: int
    kind: str
    subject_type: str
    subject_id: str
    summary: str
    details: dict[str, Any]
    raised_at: datetime
    occurrences: int
    resolved_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None

    @property
    def open(self) -> bool:
        return self.resolved_at is None and self.acknowledged_at is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
            "summary": self.summary,
            "details": self.details,
            "raised_at": self.raised_at.isoformat(),
            "occurrences": self.occurrences,
            "open": self.open,
            "resolved_at": _iso(self.resolved_at),
            "acknowledged_at": _iso(self.acknowledged_at),
            "acknowledged_by": self.acknowledged_by,
        }


@dataclass(frozen=True, slots=True)
class ScanResult:
    raised: list[AlertView]
    resolved: int


def raise_alerts(database: Database, settings: Settings, now: datetime) -> ScanResult:
    """Bring the alerts up to date with the node's state; return those raised or opened again.

    Two scans at once (the sender of another process, `tutela status`) may race to insert the
    same alert: the loser's transaction is rolled back and it scans once more."""
    for attempt in range(2):
        try:
            with database.unit_of_work() as session:
                return _scan(session, settings, now)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def list_alerts(session: Session, *, open_only: bool = False, limit: int = 200) -> list[AlertView]:
    """Alerts newest first; `open_only`: neither resolved nor acknowledged."""
    query = select(OperatorAlert)
    if open_only:
        query = query.where(
            OperatorAlert.resolved_at.is_(None), OperatorAlert.acknowledged_at.is_(None)
        )
    rows = session.scalars(query.order_by(OperatorAlert.raised_at.desc()).limit(limit))
    return [_view(row) for row in rows]


def open_alert_counts(session: Session) -> dict[str, int]:
    """Open alerts by kind, every kind present (zero included), for /metrics and status."""
    rows = session.execute(
        select(OperatorAlert.kind, func.count())
        .where(OperatorAlert.resolved_at.is_(None), OperatorAlert.acknowledged_at.is_(None))
        .group_by(OperatorAlert.kind)
    ).all()
    counts = {kind.value: 0 for kind in AlertKind}
    counts.update({str(kind): int(count) for kind, count in rows})
    return counts


def acknowledge_alert(
    database: Database, alert_id: int, viewer: UserView, now: datetime
) -> AlertView:
    """An administrator has seen the alert and is dealing with it: it is no longer open (it opens
    again if its condition grows or recurs). Audited."""
    require_permission(viewer.roles, Permission.MANAGE_SETTINGS)
    with database.unit_of_work() as session:
        row = session.get(OperatorAlert, alert_id)
        if row is None:
            raise NotFound(f"no alert {alert_id}")
        if row.acknowledged_at is not None:
            raise InvalidInput(f"alert {alert_id} was acknowledged already")
        row.acknowledged_at, row.acknowledged_by = now, viewer.name
        record(
            session,
            user_actor(viewer.id),
            ACKNOWLEDGE_ACTION,
            Subject("alert", str(row.id)),
            {"kind": row.kind, "subject": f"{row.subject_type}:{row.subject_id}"},
            now=now,
        )
        return _view(row)


def _scan(session: Session, settings: Settings, now: datetime) -> ScanResult:
    conditions = {
        (c.kind.value, c.subject.type, c.subject.id): c for c in _conditions(session, settings, now)
    }
    existing = {
        (row.kind, row.subject_type, row.subject_id): row
        for row in session.scalars(select(OperatorAlert).where(OperatorAlert.resolved_at.is_(None)))
    }
    raised: list[OperatorAlert] = []
    resolved = 0
    for key, row in existing.items():
        if key not in conditions:
            row.resolved_at = now
            resolved += 1
    for key, condition in conditions.items():
        found = existing.get(key) or _stored(session, condition)
        if found is None:
            row = OperatorAlert(
                kind=condition.kind.value,
                subject_type=condition.subject.type,
                subject_id=condition.subject.id,
                summary=condition.summary[:512],
                details={**condition.details, "count": condition.count},
                raised_at=now,
                occurrences=1,
            )
            session.add(row)
            raised.append(row)
            continue
        row = found
        grew = condition.count > int(row.details.get("count", 1))
        recurred = row.resolved_at is not None
        row.summary = condition.summary[:512]
        if recurred or grew:
            row.details = {**condition.details, "count": condition.count}
        if recurred or (grew and row.acknowledged_at is not None):
            row.raised_at, row.resolved_at = now, None
            row.acknowledged_at, row.acknowledged_by = None, None
            row.occurrences += 1
            raised.append(row)
    session.flush()
    for row in raised:
        condition = conditions[(row.kind, row.subject_type, row.subject_id)]
        log.warning("alert %s: %s", row.kind, row.summary)
        if settings.alert_webhook_url and condition.notify:
            _queue_webhook(session, row, now)
    return ScanResult([_view(row) for row in raised], resolved)


def _stored(session: Session, condition: Condition) -> OperatorAlert | None:
    """The resolved row of a condition that recurs (open rows were read already)."""
    return session.scalar(
        select(OperatorAlert).where(
            OperatorAlert.kind == condition.kind.value,
            OperatorAlert.subject_type == condition.subject.type,
            OperatorAlert.subject_id == condition.subject.id,
        )
    )


def _queue_webhook(session: Session, row: OperatorAlert, now: datetime) -> None:
    payload = {"event": ALERT_EVENT, "alert": _view(row).as_dict()}
    enqueue(
        session, ALERT_DESTINATION, ALERT_EVENT, payload, f"alert:{row.id}:{row.occurrences}", now
    )


def _conditions(session: Session, settings: Settings, now: datetime) -> Iterator[Condition]:
    yield from _floods(session, now)
    yield from _failed_messages(session)
    yield from _failed_webhooks(session)
    yield from _breached_slas(session, settings, now)
    yield from _overdue_deadlines(session, now)
    yield from _risk_reassessments(session, now)
    yield from _order_escalations(session, now)


def _floods(session: Session, now: datetime) -> Iterator[Condition]:
    # Active while the indicator is on review-only (tutela.detection.flood).
    for flood in session.scalars(select(FloodAlert).where(FloodAlert.review_only_until > now)):
        yield Condition(
            AlertKind.FLOOD,
            Subject("flood_alert", str(flood.id)),
            f"indicator {flood.indicator_id} of bank {flood.bank_id} matched {flood.matches} "
            f"times in {flood.window_s} s; on review-only until "
            f"{flood.review_only_until:%Y-%m-%d %H:%M} UTC",
            {
                "indicator_id": flood.indicator_id,
                "bank_id": flood.bank_id,
                "matches": flood.matches,
                "window_s": flood.window_s,
                "review_only_until": flood.review_only_until.isoformat(),
            },
        )


def _risk_reassessments(session: Session, now: datetime) -> Iterator[Condition]:
    # Art 3(4): a service's risk assessment is due again (tutela.risk.reminders).
    for reminder in reassessments_due(session, now):
        yield Condition(
            AlertKind.RISK_REASSESSMENT_DUE,
            Subject("risk_assessment", str(reminder.assessment_id)),
            reminder.summary,
            {
                "service": reminder.service,
                "version": reminder.version,
                "reason": reminder.reason,
                "due_since": reminder.due_since.isoformat(),
            },
        )


def _failed_messages(session: Session) -> Iterator[Condition]:
    # Reports to the centre and NCMEC, the centre's forwards and messages, the alert webhook.
    for message in session.scalars(
        select(OutboxMessage).where(OutboxMessage.status == MessageStatus.FAILED)
    ):
        yield Condition(
            AlertKind.OUTBOX_FAILED,
            Subject("outbox_message", str(message.id)),
            f"message {message.id} ({message.kind}) to {message.destination} failed after "
            f"{message.attempts} attempts: {message.last_error or 'no error recorded'}; "
            f"`tutela outbox retry {message.id}` sends it again",
            {
                "destination": message.destination,
                "message_kind": message.kind,
                "attempts": message.attempts,
                "error": message.last_error,
            },
            notify=message.destination != ALERT_DESTINATION,
        )


def _failed_webhooks(session: Session) -> Iterator[Condition]:
    # One alert per endpoint, not per verdict: a receiver that is down fails every delivery.
    # Sent again (tutela.operations.webhook_deliveries), they are pending: the alert resolves.
    rows = session.execute(
        select(
            WebhookDelivery.webhook_id,
            func.max(WebhookDelivery.platform),
            func.count(),
            func.max(WebhookDelivery.id),
        )
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        # A deleted endpoint's failures need no one: nothing will be sent to it again.
        .where(WebhookDelivery.state == DeliveryState.FAILED, Webhook.active.is_(True))
        .group_by(WebhookDelivery.webhook_id)
    ).all()
    for webhook_id, platform, count, last in rows:
        yield Condition(
            AlertKind.WEBHOOK_FAILED,
            Subject("webhook", str(webhook_id)),
            f"{count} deliveries to webhook {webhook_id} of platform {platform} failed for good "
            f"(last: {last}); once the endpoint is fixed, `tutela webhooks requeue --all-failed "
            f"--platform {platform} --by ACCOUNT` sends them again",
            {"webhook_id": int(webhook_id), "platform": platform, "last_delivery_id": int(last)},
            count=int(count),
        )


def _breached_slas(session: Session, settings: Settings, now: datetime) -> Iterator[Condition]:
    # One alert per queue priority, counting its overdue cases (a backlog is one alert).
    hours = dict(settings.review_sla_hours)
    earliest = now - timedelta(hours=min(hours.values(), default=0.0))
    rows = session.execute(
        select(Case.id, Case.priority, Case.created_at, Item.meta)
        .join(Item, Item.id == Case.item_id)
        .where(Case.status.in_(UNDECIDED), Case.created_at <= earliest)
        .order_by(Case.created_at)
        .limit(SLA_SCAN_LIMIT)
    ).all()
    overdue: dict[str, list[int]] = {}
    for case_id, priority, created_at, meta in rows:
        name = priority_name(priority, meta)
        if now >= created_at + timedelta(hours=hours.get(name, 24.0)):
            overdue.setdefault(name, []).append(int(case_id))
    for name, cases in overdue.items():
        yield Condition(
            AlertKind.SLA_BREACH,
            Subject("review_queue", name),
            f"{len(cases)} {name} cases waited longer than their {hours.get(name, 24.0):g} h "
            f"review SLA; the oldest is case {cases[0]}",
            {"priority": name, "sla_hours": hours.get(name, 24.0), "oldest_case_id": cases[0]},
            count=len(cases),
        )


def priority_name(priority: int, meta: dict[str, Any] | None) -> str:
    """The review queue's name for a case's priority (as tutela.review.queues orders them)."""
    urgent = bool(((meta or {}).get("extra") or {}).get("urgent"))
    return URGENT if urgent else PRIORITY_NAMES.get(priority, "far")


def _overdue_deadlines(session: Session, now: datetime) -> Iterator[Condition]:
    takedowns = session.scalars(
        select(TakedownRequest).where(
            TakedownRequest.state == TakedownState.REQUESTED,
            TakedownRequest.requested_at <= now - TAKEDOWN_CONFIRM_WITHIN,
        )
    )
    for takedown in takedowns:
        yield Condition(
            AlertKind.DEADLINE_OVERDUE,
            Subject("takedown_request", str(takedown.id)),
            f"the platform has not confirmed removal of item {takedown.item_id} (case "
            f"{takedown.case_id}) asked for at {takedown.requested_at:%Y-%m-%d %H:%M} UTC, "
            f"after {takedown.sends} requests",
            {"case_id": takedown.case_id, "item_id": takedown.item_id, "sends": takedown.sends},
        )
    notices = session.scalars(
        select(UserNotice).where(
            UserNotice.state == NoticeState.HELD,
            UserNotice.hold_until <= now - NOTICE_RELEASE_WITHIN,
        )
    )
    for notice in notices:
        yield Condition(
            AlertKind.DEADLINE_OVERDUE,
            Subject("user_notice", str(notice.id)),
            f"the notice to the user of item {notice.item_id} (case {notice.case_id}) was due "
            f"for release at {notice.hold_until:%Y-%m-%d %H:%M} UTC and is still held; is the "
            "sender (`tutela serve` or `tutela outbox run`) running?",
            {"case_id": notice.case_id, "item_id": notice.item_id},
        )


def _order_escalations(session: Session, now: datetime) -> Iterator[Condition]:
    # A removal order past 50 % of its time, then 90 %, then overdue (tutela.orders.escalation):
    # one alert per order whose count is its level, so an acknowledged alert opens again when
    # the order escalates further.
    for order, level in escalated(session, now):
        yield Condition(
            AlertKind.ORDER_ESCALATION,
            Subject("order", str(order.id)),
            f"removal order {order.id} ({order.order_ref}) is {level.label} through its time: "
            f"its deadline is {order.deadline_at:%Y-%m-%d %H:%M} UTC and an item still awaits "
            "removal",
            {
                "order_id": order.order_ref,
                "level": level.value,
                "deadline_at": order.deadline_at.isoformat(),
            },
            count=level.value,
        )


def _view(row: OperatorAlert) -> AlertView:
    return AlertView(
        id=row.id,
        kind=row.kind,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        summary=row.summary,
        details=dict(row.details),
        raised_at=row.raised_at,
        occurrences=row.occurrences,
        resolved_at=row.resolved_at,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
