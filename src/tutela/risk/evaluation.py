"""An assessment's parts with the node's figures and their scores: computed live for a draft,
frozen into the version at sign-off (what was signed is what is shown and exported)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.risk.factors import PartFactors, parse_factors
from tutela.risk.figures import (
    MonthFigures,
    PartFigures,
    empty_figures,
    figures_by_part,
    window_start,
)
from tutela.risk.method import PartScore, RiskLevel
from tutela.risk.models import RiskPart
from tutela.risk.policy import RiskPolicy


@dataclass(frozen=True, slots=True)
class PartView:
    name: str
    factors: PartFactors
    notes: str
    figures: PartFigures
    score: PartScore

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "factors": self.factors.as_dict(),
            "notes": self.notes,
            "figures": self.figures.as_dict(),
            "score": self.score.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class Evaluation:
    figures_from: datetime
    figures_to: datetime
    method: dict[str, Any]
    parts: tuple[PartView, ...]
    # Parts the node saw items of that the assessment does not cover yet.
    unassessed: tuple[PartFigures, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "figures_from": self.figures_from.isoformat(),
            "figures_to": self.figures_to.isoformat(),
            "method": self.method,
            "parts": [part.as_dict() for part in self.parts],
            "unassessed_parts": [figures.as_dict() for figures in self.unassessed],
        }


def evaluate(session: Session, assessment_id: int, policy: RiskPolicy, now: datetime) -> Evaluation:
    start = window_start(now, policy.figure_months)
    seen = figures_by_part(session, start, now)
    rows = session.scalars(
        select(RiskPart).where(RiskPart.assessment_id == assessment_id).order_by(RiskPart.name)
    ).all()
    parts = []
    for row in rows:
        factors = parse_factors(row.factors)
        figures = seen.get(row.name) or empty_figures(row.name, start, now)
        parts.append(
            PartView(row.name, factors, row.notes, figures, policy.method.score(factors, figures))
        )
    named = {row.name for row in rows}
    unassessed = tuple(figures for part, figures in seen.items() if part not in named)
    return Evaluation(start, now, policy.method.as_dict(), tuple(parts), unassessed)


def evaluation_from(snapshot: dict[str, Any]) -> Evaluation:
    """The evaluation frozen at sign-off, read back."""
    return Evaluation(
        datetime.fromisoformat(snapshot["figures_from"]),
        datetime.fromisoformat(snapshot["figures_to"]),
        snapshot["method"],
        tuple(
            PartView(
                part["name"],
                parse_factors(part["factors"]),
                part["notes"],
                _figures_from(part["figures"]),
                PartScore(
                    part["score"]["score"],
                    RiskLevel(part["score"]["level"]),
                    dict(part["score"]["points"]),
                ),
            )
            for part in snapshot["parts"]
        ),
        tuple(_figures_from(figures) for figures in snapshot["unassessed_parts"]),
    )


def _figures_from(data: dict[str, Any]) -> PartFigures:
    return PartFigures(data["part"], tuple(MonthFigures(**month) for month in data["months"]))
