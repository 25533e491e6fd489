"""What `tutela status` sums up: queues, deliveries and open alerts, read in one snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tutela.detection.models import UNDECIDED, Case, Item, Job, WebhookDelivery
from tutela.messaging.outbox_models import MessageStatus, OutboxMessage
from tutela.operations.alerts import AlertView, list_alerts, open_alert_counts, priority_name
from tutela.review.queues import PRIORITY_NAMES, URGENT


@dataclass(frozen=True, slots=True)
class NodeStatus:
    at: datetime
    items: dict[str, int]  # jobs: queued, processing
    review: dict[str, int]  # undecided cases by queue priority
    outbox: dict[str, dict[str, int]]  # destination → pending, failed
    webhooks: dict[str, int]  # pending, failed
    alert_counts: dict[str, int]  # open alerts by kind
    alerts: list[AlertView]  # the open ones

    @property
    def open_alerts(self) -> int:
        return sum(self.alert_counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "items": self.items,
            "review": self.review,
            "outbox": self.outbox,
            "webhooks": self.webhooks,
            "alerts": {
                "open": self.open_alerts,
                "by_kind": self.alert_counts,
                "list": [alert.as_dict() for alert in self.alerts],
            },
        }


def read_status(session: Session, now: datetime) -> NodeStatus:
    return NodeStatus(
        at=now,
        items=_jobs(session),
        review=_awaiting_review(session),
        outbox=_outbox(session),
        webhooks=_webhooks(session),
        alert_counts=open_alert_counts(session),
        alerts=list_alerts(session, open_only=True),
    )


def failed_messages(session: Session) -> dict[str, int]:
    """Messages failed for good by transport (outbox destinations, and `webhook` for platforms'
    webhooks), every transport with messages present; for /metrics."""
    counts = {name: figures["failed"] for name, figures in _outbox(session).items()}
    counts["webhook"] = _webhooks(session)["failed"]
    return counts


def _jobs(session: Session) -> dict[str, int]:
    rows = dict(session.execute(select(Job.state, func.count()).group_by(Job.state)).all())
    # A leased job is one a worker is hashing and deciding.
    return {"queued": int(rows.get("queued", 0)), "processing": int(rows.get("leased", 0))}


def _awaiting_review(session: Session) -> dict[str, int]:
    counts = {URGENT: 0, **{name: 0 for name in PRIORITY_NAMES.values()}}
    rows = session.execute(
        select(Case.priority, Item.meta)
        .join(Item, Item.id == Case.item_id)
        .where(Case.status.in_(UNDECIDED))
    ).all()
    for priority, meta in rows:
        counts[priority_name(priority, meta)] += 1
    return counts


def _outbox(session: Session) -> dict[str, dict[str, int]]:
    rows = session.execute(
        select(OutboxMessage.destination, OutboxMessage.status, func.count())
        .where(OutboxMessage.status.in_((MessageStatus.QUEUED, MessageStatus.FAILED)))
        .group_by(OutboxMessage.destination, OutboxMessage.status)
    ).all()
    figures: dict[str, dict[str, int]] = {}
    for destination, status, count in rows:
        entry = figures.setdefault(str(destination), {"pending": 0, "failed": 0})
        entry["pending" if status == MessageStatus.QUEUED else "failed"] += int(count)
    return figures


def _webhooks(session: Session) -> dict[str, int]:
    rows = dict(
        session.execute(
            select(WebhookDelivery.state, func.count())
            .where(WebhookDelivery.state.in_(("pending", "failed")))
            .group_by(WebhookDelivery.state)
        ).all()
    )
    return {"pending": int(rows.get("pending", 0)), "failed": int(rows.get("failed", 0))}
