"""Art 83(2): a provider's yearly figures, counted by SQL over the detection, review, enforcement
and order tables. Only counts, rates and durations leave here: no account, item, name or
address, so the document can be published as it is.

What counts where:
- a *decision* is a reviewer's final decision on a case (`confirmed` or `dismissed`) taken in the
  year; a confirmation later overturned on complaint counts as a decision *reversed*;
- a match's *error* is a match whose case was finally judged not abuse: dismissed by the reviewer,
  or reversed on complaint; its rate is per bank, signal type and distance band, over the
  matches of cases decided in the year, with its 95 % Wilson interval;
- complaints, orders and removals are counted by the time they were received or done."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from tutela.detection.models import Case, CaseState, Item, ItemMatch
from tutela.enforcement.measure_models import (
    Complaint,
    ComplaintState,
    TakedownRequest,
    TakedownState,
)
from tutela.orders.models import ReceivedOrder, ReceivedOrderItem
from tutela.orders.states import ItemState
from tutela.review.models import ReviewDecision
from tutela.transparency.bands import ORDER, band_column
from tutela.transparency.periods import Year
from tutela.transparency.wilson import proportion

# Final decisions of a reviewer; a case's status moves on from `confirmed` only by a complaint.
FINAL = (CaseState.CONFIRMED, CaseState.DISMISSED)
NOT_ABUSE = (CaseState.DISMISSED, CaseState.REVERSED)
REVIEWED_OUTCOMES = ("review", "action")
SECONDS_PER_HOUR = 3600.0
REMOVED = (ItemState.REMOVED.value, ItemState.DISABLED.value)
REMOVAL = "removal"
# Art 16 and 18a: orders that name URLs rather than items (`received_orders.kind`).
BLOCKING_KINDS = ("blocking", "delisting")


def provider_figures(session: Session, year: Year) -> dict[str, Any]:
    """The whole document, as plain JSON values."""
    return {
        "kind": "provider",
        "year": year.year,
        "regulation": "Regulation (EU) on child sexual abuse, Art 83(2)",
        "detection": _detection(session, year),
        "error_rates": _error_rates(session, year),
        "decisions": _decisions(session, year),
        "complaints": _complaints(session, year),
        "removal_orders": _removal_orders(session, year),
        "removed_by_source": _removed_by_source(session, year),
        "blocking_orders": _blocking_orders(session, year),
    }


def _final_decisions(year: Year) -> Any:
    """Each case's final decision taken in the year: (case_id, decided_at)."""
    return (
        select(
            ReviewDecision.case_id.label("case_id"),
            func.max(ReviewDecision.created_at).label("decided_at"),
        )
        .where(
            ReviewDecision.status_after.in_(FINAL),
            ReviewDecision.created_at >= year.start,
            ReviewDecision.created_at < year.end,
        )
        .group_by(ReviewDecision.case_id)
        .subquery()
    )


def _detection(session: Session, year: Year) -> dict[str, Any]:
    in_year = and_(Item.created_at >= year.start, Item.created_at < year.end)
    checked = session.scalar(select(func.count()).select_from(Item).where(in_year)) or 0
    rows = session.execute(
        select(ItemMatch.bank, ItemMatch.signal_type, ItemMatch.outcome, func.count())
        .where(ItemMatch.created_at >= year.start, ItemMatch.created_at < year.end)
        .group_by(ItemMatch.bank, ItemMatch.signal_type, ItemMatch.outcome)
        .order_by(ItemMatch.bank, ItemMatch.signal_type, ItemMatch.outcome)
    ).all()
    measures: dict[tuple[str, str], dict[str, int]] = {}
    for bank, signal_type, outcome, count in rows:
        measures.setdefault((bank, signal_type), {})[outcome] = int(count)
    return {
        "items_checked": int(checked),
        "measures": [
            {"bank": bank, "signal_type": signal_type, "matches_by_outcome": outcomes}
            for (bank, signal_type), outcomes in measures.items()
        ],
    }


def _error_rates(session: Session, year: Year) -> list[dict[str, Any]]:
    final = _final_decisions(year)
    band = band_column(ItemMatch.distance).label("band")
    wrong = func.sum(case((Case.status.in_(NOT_ABUSE), 1), else_=0))
    rows = session.execute(
        select(ItemMatch.bank, ItemMatch.signal_type, band, func.count(), wrong)
        .join(Case, Case.item_id == ItemMatch.item_id)
        .join(final, final.c.case_id == Case.id)
        .where(ItemMatch.outcome.in_(REVIEWED_OUTCOMES))
        .group_by(ItemMatch.bank, ItemMatch.signal_type, band)
    ).all()
    ordered = sorted(rows, key=lambda r: (r[0], r[1], ORDER.index(r[2])))
    return [
        {
            "bank": bank,
            "signal_type": signal_type,
            "distance_band": band_label,
            "judged_not_abuse": proportion(int(not_abuse or 0), int(reviewed)).as_dict(),
        }
        for bank, signal_type, band_label, reviewed, not_abuse in ordered
    ]


def _decisions(session: Session, year: Year) -> dict[str, Any]:
    final = _final_decisions(year)
    rows = session.execute(
        select(Case.status, func.count())
        .join(final, final.c.case_id == Case.id)
        .group_by(Case.status)
    ).all()
    by_status = {str(status): int(count) for status, count in rows}
    restricting = by_status.get(CaseState.CONFIRMED, 0) + by_status.get(CaseState.REVERSED, 0)
    reversed_ = by_status.get(CaseState.REVERSED, 0)
    return {
        "decided": sum(by_status.values()),
        "confirmed": restricting,
        "dismissed": by_status.get(CaseState.DISMISSED, 0),
        "reversed_on_complaint": proportion(reversed_, restricting).as_dict(),
    }


def _complaints(session: Session, year: Year) -> dict[str, Any]:
    rows = session.execute(
        select(Complaint.state, Complaint.received_at, Complaint.decided_at).where(
            Complaint.received_at >= year.start, Complaint.received_at < year.end
        )
    ).all()
    by_state: dict[str, int] = {}
    for state, _, _ in rows:
        by_state[state] = by_state.get(state, 0) + 1
    hours = [_hours(received, decided) for _, received, decided in rows if decided is not None]
    return {
        "received": len(rows),
        "upheld": by_state.get(ComplaintState.UPHELD, 0),
        "rejected": by_state.get(ComplaintState.REJECTED, 0),
        "open": by_state.get(ComplaintState.OPEN, 0),
        "hours_to_decide": _durations(hours),
    }


def _removal_orders(session: Session, year: Year) -> dict[str, Any]:
    in_year = and_(
        ReceivedOrder.kind == REMOVAL,
        ReceivedOrder.received_at >= year.start,
        ReceivedOrder.received_at < year.end,
    )
    orders = session.execute(
        select(ReceivedOrder.state, ReceivedOrder.overdue_at).where(in_year)
    ).all()
    items = session.execute(
        select(ReceivedOrderItem.state, ReceivedOrder.received_at, ReceivedOrderItem.executed_at)
        .join(ReceivedOrder, ReceivedOrder.id == ReceivedOrderItem.order_id)
        .where(in_year)
    ).all()
    by_state: dict[str, int] = {}
    for state, _ in orders:
        by_state[state] = by_state.get(state, 0) + 1
    removed = [
        _hours(received, executed)
        for state, received, executed in items
        if state in REMOVED and executed is not None
    ]
    return {
        "received": len(orders),
        "by_state": dict(sorted(by_state.items())),
        "ever_overdue": sum(1 for _, overdue in orders if overdue is not None),
        "items": len(items),
        "items_removed_or_disabled": len(removed),
        "hours_to_remove": _durations(removed),
    }


def _blocking_orders(session: Session, year: Year) -> dict[str, Any]:
    rows = session.execute(
        select(ReceivedOrder.kind, func.count())
        .where(
            ReceivedOrder.kind.in_(BLOCKING_KINDS),
            ReceivedOrder.received_at >= year.start,
            ReceivedOrder.received_at < year.end,
        )
        .group_by(ReceivedOrder.kind)
    ).all()
    by_kind = {kind: 0 for kind in BLOCKING_KINDS} | {str(k): int(n) for k, n in rows}
    return {"received": sum(by_kind.values()), "by_kind": by_kind}


def _removed_by_source(session: Session, year: Year) -> dict[str, int]:
    detection = session.scalar(
        select(func.count())
        .select_from(TakedownRequest)
        .where(
            TakedownRequest.state == TakedownState.CONFIRMED,
            TakedownRequest.confirmed_at >= year.start,
            TakedownRequest.confirmed_at < year.end,
        )
    )
    by_order = session.scalar(
        select(func.count())
        .select_from(ReceivedOrderItem)
        .where(
            ReceivedOrderItem.state.in_(REMOVED),
            ReceivedOrderItem.executed_at >= year.start,
            ReceivedOrderItem.executed_at < year.end,
        )
    )
    return {"own_detection": int(detection or 0), "removal_order": int(by_order or 0)}


def _hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / SECONDS_PER_HOUR


def _durations(hours: Iterable[float]) -> dict[str, float | int | None]:
    values = sorted(hours)
    if not values:
        return {"count": 0, "mean": None, "median": None, "max": None}
    return {
        "count": len(values),
        "mean": round(statistics.fmean(values), 3),
        "median": round(statistics.median(values), 3),
        "max": round(values[-1], 3),
    }
