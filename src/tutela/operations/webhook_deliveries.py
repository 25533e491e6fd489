"""The platforms' webhook deliveries as the operator sees them: listed with the error each last
failed with (never a body), counted by platform for /metrics, and failed ones put back to pending
with a fresh count of attempts once the platform fixed its endpoint. A delivery sent again keeps
its id, so it travels with the same Idempotency-Key and the receiver de-duplicates it.

Sending again is an administrator's act (MANAGE_SETTINGS), recorded in the audit log under the
account: from the command line by `--by ACCOUNT`, from the console by the signed-in user."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select, update
from sqlalchemy.orm import Session

from tutela.audit.log import Subject, record, user_actor
from tutela.auth.actors import acting_account
from tutela.auth.platforms import check_platform
from tutela.auth.roles import Permission, require_permission
from tutela.auth.users import UserView
from tutela.db.database import Database
from tutela.detection.models import DeliveryAttempt, DeliveryState, Webhook, WebhookDelivery
from tutela.errors import Conflict, InvalidInput, NotFound

REQUEUE_ACTION = "webhook_requeue"
STATES = frozenset(state.value for state in DeliveryState)
BIGINT_END = 2**63  # ids are 64-bit: a larger number names no delivery (and must not reach SQL)
# Ids named at once on the command line (an outage's worth goes through --all-failed).
IDS_MAX = 1000
# A relative --since: a number and a unit, e.g. 90m, 2h, 1d.
DURATION = re.compile(r"^(\d{1,6})([smhd])$")
UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """A delivery without its body; `last_error` is how its latest try ended (a status or the
    failure's class, never what the endpoint answered)."""

    id: int
    platform: str
    webhook_id: int
    item_id: int
    event: str | None
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "platform": self.platform,
            "webhook_id": self.webhook_id,
            "item_id": self.item_id,
            "event": self.event,
            "state": self.state,
            "attempts": self.attempts,
            "created_at": self.created_at.isoformat(),
            "next_attempt_at": self.next_attempt_at.isoformat(),
            "delivered_at": _iso(self.delivered_at),
            "last_attempt_at": _iso(self.last_attempt_at),
            "last_status_code": self.last_status_code,
            "last_error": self.last_error,
        }


@dataclass(frozen=True, slots=True)
class FailedEndpoint:
    """The failed deliveries of one endpoint, for the console: how many, and the latest's error."""

    webhook_id: int
    platform: str
    count: int
    last_failed_at: datetime | None
    last_error: str | None
    # False once the platform deleted the endpoint: its deliveries are not sent again.
    active: bool


@dataclass(frozen=True, slots=True)
class Selection:
    """Which failed deliveries to send again: those named by id, or every failed one (of a
    platform, of an endpoint, whose last try was at or after `since`)."""

    ids: tuple[int, ...] = ()
    all_failed: bool = False
    platform: str | None = None
    webhook_id: int | None = None
    since: datetime | None = None

    def checked(self) -> Selection:
        """The selection, or InvalidInput: exactly one of ids and all_failed; filters only with
        all_failed; ids in range, each once."""
        if bool(self.ids) == self.all_failed:
            raise InvalidInput("name the deliveries to send again, or choose all failed ones")
        if self.ids and (self.platform, self.webhook_id, self.since) != (None, None, None):
            raise InvalidInput("a platform, an endpoint or a time narrows all failed deliveries")
        if len(self.ids) > IDS_MAX:
            raise InvalidInput(f"at most {IDS_MAX} deliveries by id; choose all failed ones")
        for ident in self.ids:
            if not 0 < ident < BIGINT_END:
                raise NotFound(f"no webhook delivery {ident}")
        if self.since is not None and self.since.tzinfo is None:
            raise InvalidInput("a time to send failed deliveries again from needs a time zone")
        platform = check_platform(self.platform) if self.platform is not None else None
        ids = tuple(sorted(set(self.ids)))
        return Selection(ids, self.all_failed, platform, self.webhook_id, self.since)

    def as_dict(self) -> dict[str, Any]:
        if self.ids:
            return {"ids": _runs(self.ids)}
        return {
            "all_failed": True,
            "platform": self.platform,
            "webhook_id": self.webhook_id,
            "since": _iso(self.since),
        }


@dataclass(frozen=True, slots=True)
class Requeued:
    """What was put back to pending: the deliveries' ids, and how many of each platform."""

    ids: list[int]
    by_platform: dict[str, int]
    actor: str

    def as_dict(self) -> dict[str, Any]:
        return {"requeued": len(self.ids), "ids": self.ids, "by_platform": self.by_platform}


def list_deliveries(
    session: Session,
    *,
    state: str | None = None,
    platform: str | None = None,
    limit: int = 100,
) -> list[DeliveryView]:
    """Deliveries newest first, narrowed to one state (`failed`: failed for good) and platform."""
    if state is not None and state not in STATES:
        raise InvalidInput(f"a delivery is {', '.join(sorted(STATES))}, not {state!r}")
    if not 0 < limit <= 10_000:
        raise InvalidInput("list 1 to 10000 deliveries")
    query = select(WebhookDelivery)
    if state is not None:
        query = query.where(WebhookDelivery.state == state)
    if platform is not None:
        query = query.where(WebhookDelivery.platform == check_platform(platform))
    rows = list(session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit)))
    latest: dict[int, DeliveryAttempt] = {}
    if rows:
        attempts = session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_([row.id for row in rows]))
            .order_by(DeliveryAttempt.id)
        )
        latest = {attempt.delivery_id: attempt for attempt in attempts}
    return [_view(row, latest.get(row.id)) for row in rows]


def failed_endpoints(session: Session) -> list[FailedEndpoint]:
    """Endpoints with deliveries failed for good, the most failures first."""
    rows = session.execute(
        select(
            WebhookDelivery.webhook_id,
            WebhookDelivery.platform,
            Webhook.active,
            func.count(),
            func.max(WebhookDelivery.id),
        )
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(WebhookDelivery.state == DeliveryState.FAILED)
        .group_by(WebhookDelivery.webhook_id, WebhookDelivery.platform, Webhook.active)
    ).all()
    last_ids = [int(last) for *_, last in rows]
    latest: dict[int, DeliveryAttempt] = {}
    if last_ids:
        attempts = session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_(last_ids))
            .order_by(DeliveryAttempt.id)
        )
        latest = {attempt.delivery_id: attempt for attempt in attempts}
    endpoints = []
    for webhook_id, platform, active, count, last in rows:
        attempt = latest.get(int(last))
        endpoints.append(
            FailedEndpoint(
                int(webhook_id),
                str(platform),
                int(count),
                attempt.at if attempt is not None else None,
                _error_text(attempt),
                bool(active),
            )
        )
    endpoints.sort(key=lambda endpoint: (-endpoint.count, endpoint.webhook_id))
    return endpoints


def failed_by_platform(session: Session) -> dict[str, int]:
    """Deliveries failed for good by platform (platforms with none are absent), for /metrics."""
    rows = session.execute(
        select(WebhookDelivery.platform, func.count())
        .where(WebhookDelivery.state == DeliveryState.FAILED)
        .group_by(WebhookDelivery.platform)
    ).all()
    return {str(platform): int(count) for platform, count in rows}


def parse_since(text: str, now: datetime) -> datetime:
    """A --since value: ISO 8601 with a time zone (2025-06-02T09:00Z), or a span before `now`
    (90m, 2h, 1d). InvalidInput otherwise."""
    text = text.strip()
    relative = DURATION.match(text)
    if relative is not None:
        return now - timedelta(seconds=int(relative[1]) * UNIT_S[relative[2]])
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"--since is neither ISO 8601 with a time zone nor a span like 2h: {text!r}"
        ) from None
    if at.tzinfo is None:
        raise InvalidInput(f"--since needs a time zone (e.g. Z or +02:00): {text!r}")
    return at


def requeue_by_account(
    database: Database, by: str, selection: Selection, now: datetime, *, via: str | None = None
) -> Requeued:
    """Send failed deliveries again as the administrator account called `by` (the command
    line's --by); Unauthorized for no such active account, Forbidden for one that is not an
    administrator. `via` (the operating-system account) is recorded beside it."""
    selection = selection.checked()
    with database.unit_of_work() as session:
        account = acting_account(session, by, Permission.MANAGE_SETTINGS)
        return _requeue(session, account.actor, selection, now, via)


def requeue_as(
    database: Database, viewer: UserView, selection: Selection, now: datetime
) -> Requeued:
    """Send failed deliveries again as the signed-in console user (an administrator)."""
    require_permission(viewer.roles, Permission.MANAGE_SETTINGS)
    selection = selection.checked()
    with database.unit_of_work() as session:
        return _requeue(session, user_actor(viewer.id), selection, now, "console")


def _requeue(
    session: Session, actor: str, selection: Selection, now: datetime, via: str | None
) -> Requeued:
    conditions = _conditions(session, selection)
    failed_with = _last_errors(session, conditions)
    rows = session.execute(
        update(WebhookDelivery)
        .where(*conditions)
        .values(state=DeliveryState.PENDING, attempts=0, next_attempt_at=now, delivered_at=None)
        .returning(WebhookDelivery.id, WebhookDelivery.webhook_id, WebhookDelivery.platform)
        .execution_options(synchronize_session=False)
    ).all()
    by_endpoint: dict[tuple[int, str], list[int]] = {}
    for ident, webhook_id, platform in rows:
        by_endpoint.setdefault((int(webhook_id), str(platform)), []).append(int(ident))
    # One entry per endpoint, naming every delivery (as runs of ids: an outage's worth of
    # consecutive ids stays short).
    for (webhook_id, platform), ids in sorted(by_endpoint.items()):
        record(
            session,
            actor,
            REQUEUE_ACTION,
            Subject("webhook", str(webhook_id)),
            {
                "platform": platform,
                "count": len(ids),
                "deliveries": _runs(ids),
                "failed_with": failed_with.get(webhook_id, {}),
                "selection": selection.as_dict(),
                "via": via,
            },
            now=now,
        )
    by_platform: dict[str, int] = {}
    for (_, platform), ids in by_endpoint.items():
        by_platform[platform] = by_platform.get(platform, 0) + len(ids)
    return Requeued(sorted(int(row[0]) for row in rows), by_platform, actor)


def _conditions(session: Session, selection: Selection) -> list[ColumnElement[bool]]:
    # A deleted endpoint (the platform stopped its deliveries) gets nothing again.
    active = select(Webhook.id).where(Webhook.active)
    conditions: list[ColumnElement[bool]] = [
        WebhookDelivery.state == DeliveryState.FAILED,
        WebhookDelivery.webhook_id.in_(active),
    ]
    if selection.ids:
        found = {
            int(ident): (str(state), bool(live))
            for ident, state, live in session.execute(
                select(WebhookDelivery.id, WebhookDelivery.state, Webhook.active)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .where(WebhookDelivery.id.in_(selection.ids))
            )
        }
        missing = [ident for ident in selection.ids if ident not in found]
        if missing:
            raise NotFound(f"no webhook delivery {_runs(missing)}")
        standing = [
            f"{ident} is {state}"
            if state != DeliveryState.FAILED
            else f"{ident}'s endpoint was deleted"
            for ident in selection.ids
            for state, live in [found[ident]]
            if state != DeliveryState.FAILED or not live
        ]
        if standing:
            raise Conflict(f"not sent again: {', '.join(standing[:10])}")
        conditions.append(WebhookDelivery.id.in_(selection.ids))
        return conditions
    if selection.platform is not None:
        conditions.append(WebhookDelivery.platform == selection.platform)
    if selection.webhook_id is not None:
        conditions.append(WebhookDelivery.webhook_id == selection.webhook_id)
    if selection.since is not None:
        # A failed delivery's last try is the one that failed it: any try at or after `since`.
        conditions.append(
            exists().where(
                DeliveryAttempt.delivery_id == WebhookDelivery.id,
                DeliveryAttempt.at >= selection.since,
            )
        )
    return conditions


def _last_errors(
    session: Session, conditions: Sequence[ColumnElement[bool]]
) -> dict[int, dict[str, int]]:
    """How the chosen deliveries last failed, by endpoint: {error text: deliveries}."""
    chosen = select(WebhookDelivery.id).where(*conditions)
    latest = (
        select(func.max(DeliveryAttempt.id))
        .where(DeliveryAttempt.delivery_id.in_(chosen))
        .group_by(DeliveryAttempt.delivery_id)
    )
    rows = session.execute(
        select(
            WebhookDelivery.webhook_id,
            DeliveryAttempt.error,
            DeliveryAttempt.status_code,
            func.count(),
        )
        .join(WebhookDelivery, WebhookDelivery.id == DeliveryAttempt.delivery_id)
        .where(DeliveryAttempt.id.in_(latest))
        .group_by(WebhookDelivery.webhook_id, DeliveryAttempt.error, DeliveryAttempt.status_code)
    ).all()
    errors: dict[int, dict[str, int]] = {}
    for webhook_id, error, status_code, count in rows:
        text = _error_text_of(error, status_code) or "unknown"
        by_error = errors.setdefault(int(webhook_id), {})
        by_error[text] = by_error.get(text, 0) + int(count)
    return errors


def _view(row: WebhookDelivery, attempt: DeliveryAttempt | None) -> DeliveryView:
    return DeliveryView(
        id=row.id,
        platform=row.platform,
        webhook_id=row.webhook_id,
        item_id=row.item_id,
        event=_event(row.body),
        state=row.state,
        attempts=row.attempts,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        delivered_at=row.delivered_at,
        last_attempt_at=attempt.at if attempt is not None else None,
        last_status_code=attempt.status_code if attempt is not None else None,
        last_error=_error_text(attempt),
    )


def _event(body: str) -> str | None:
    """The event a body announces (`item.verdict` …): its kind only, nothing else of it."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    event = value.get("event") if isinstance(value, dict) else None
    return event if isinstance(event, str) else None


def _error_text(attempt: DeliveryAttempt | None) -> str | None:
    if attempt is None:
        return None
    return _error_text_of(attempt.error, attempt.status_code)


def _error_text_of(error: str | None, status_code: int | None) -> str | None:
    """A try's error as recorded, or its status when only that was."""
    if error:
        return error
    return None if status_code is None else f"answered {status_code}"


def _runs(ids: Iterable[int]) -> str:
    """Ids as runs: 3,5-9,12."""
    parts: list[str] = []
    ordered = sorted(set(ids))
    start = previous = ordered[0] if ordered else 0
    for ident in ordered[1:]:
        if ident != previous + 1:
            parts.append(_run(start, previous))
            start = ident
        previous = ident
    if ordered:
        parts.append(_run(start, previous))
    return ",".join(parts)


def _run(start: int, end: int) -> str:
    return str(start) if start == end else f"{start}-{end}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
