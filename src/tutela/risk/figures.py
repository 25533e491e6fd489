"""The node's own figures per service part and month, from the tables it already keeps: items
that matched a bank, confirmed reports and complaints. The part is what the platform sent as
`metadata.service` with each item; items sent without one count under UNNAMED_PART."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tutela.detection.models import Case, CaseState, Item, ItemMatch
from tutela.detection.policy import ACTION, REVIEW
from tutela.enforcement.measure_models import Complaint
from tutela.review.models import ReviewDecision

UNNAMED_PART = "(no service named)"


@dataclass(frozen=True, slots=True)
class MonthFigures:
    """One part's figures for one calendar month (UTC)."""

    month: str  # YYYY-MM
    matches: int = 0  # items with at least one match that was not ignored or safe-listed
    confirmed_reports: int = 0  # cases a reviewer confirmed as abuse, still standing
    complaints: int = 0  # users' complaints received about decisions (DSA Art 20)

    def as_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "matches": self.matches,
            "confirmed_reports": self.confirmed_reports,
            "complaints": self.complaints,
        }


@dataclass(frozen=True, slots=True)
class PartFigures:
    part: str
    months: tuple[MonthFigures, ...]

    @property
    def matches(self) -> int:
        return sum(m.matches for m in self.months)

    @property
    def confirmed_reports(self) -> int:
        return sum(m.confirmed_reports for m in self.months)

    @property
    def complaints(self) -> int:
        return sum(m.complaints for m in self.months)

    def as_dict(self) -> dict[str, Any]:
        return {
            "part": self.part,
            "totals": {
                "matches": self.matches,
                "confirmed_reports": self.confirmed_reports,
                "complaints": self.complaints,
            },
            "months": [m.as_dict() for m in self.months],
        }


def window_start(now: datetime, months: int) -> datetime:
    """The first instant of the calendar month `months - 1` before `now`'s (so `months` months,
    the current one included)."""
    if months < 1:
        raise ValueError("a figure window holds at least one month")
    index = now.year * 12 + now.month - 1 - (months - 1)
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def month_names(start: datetime, end: datetime) -> list[str]:
    names = []
    index, last = start.year * 12 + start.month - 1, end.year * 12 + end.month - 1
    while index <= last:
        names.append(f"{index // 12:04d}-{index % 12 + 1:02d}")
        index += 1
    return names


def figures_by_part(session: Session, start: datetime, end: datetime) -> dict[str, PartFigures]:
    """Every part that had anything in [start, end), each month of the window listed."""
    counts: dict[str, dict[str, dict[str, int]]] = {}

    def add(rows: Iterable[Any], figure: str) -> None:
        for meta, at in rows:
            part = _part_of(meta)
            month = at.astimezone(UTC).strftime("%Y-%m")
            slot = counts.setdefault(part, {}).setdefault(month, {})
            slot[figure] = slot.get(figure, 0) + 1

    # An item counts once, in the month of its first counted match.
    first_match = (
        select(ItemMatch.item_id, func.min(ItemMatch.created_at).label("at"))
        .where(ItemMatch.outcome.in_((ACTION, REVIEW)))
        .group_by(ItemMatch.item_id)
        .subquery()
    )
    add(
        session.execute(
            select(Item.meta, first_match.c.at)
            .join(first_match, first_match.c.item_id == Item.id)
            .where(first_match.c.at >= start, first_match.c.at < end)
        ),
        "matches",
    )
    # A confirmed case counts in the month of its (first) confirmation; one a complaint
    # reversed no longer counts.
    confirmed = (
        select(ReviewDecision.case_id, func.min(ReviewDecision.created_at).label("at"))
        .where(ReviewDecision.status_after == CaseState.CONFIRMED)
        .group_by(ReviewDecision.case_id)
        .subquery()
    )
    add(
        session.execute(
            select(Item.meta, confirmed.c.at)
            .join(Case, Case.item_id == Item.id)
            .join(confirmed, confirmed.c.case_id == Case.id)
            .where(
                Case.status == CaseState.CONFIRMED, confirmed.c.at >= start, confirmed.c.at < end
            )
        ),
        "confirmed_reports",
    )
    add(
        session.execute(
            select(Item.meta, Complaint.received_at)
            .join(Item, Item.id == Complaint.item_id)
            .where(Complaint.received_at >= start, Complaint.received_at < end)
        ),
        "complaints",
    )
    months = month_names(start, end)
    return {
        part: PartFigures(
            part, tuple(MonthFigures(month, **by_month.get(month, {})) for month in months)
        )
        for part, by_month in sorted(counts.items())
    }


def empty_figures(part: str, start: datetime, end: datetime) -> PartFigures:
    return PartFigures(part, tuple(MonthFigures(month) for month in month_names(start, end)))


def _part_of(meta: Any) -> str:
    service = meta.get("service") if isinstance(meta, dict) else None
    return service if isinstance(service, str) and service else UNNAMED_PART
