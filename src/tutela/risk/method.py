"""How a service part's risk level is found: a documented score, configurable in its settings.

The score adds points for each function the part offers (direct messaging, live streaming, …),
for the answers on age assurance, user reporting and children's use, and for the node's own
figures over the assessment's window: any item that matched a bank, any confirmed report.
Complaints are shown but not scored: they measure the provider's decisions, not the abuse.
From TUTELA_RISK_HIGH_SCORE points the level is high, from TUTELA_RISK_MEDIUM_SCORE medium,
below that low. TUTELA_RISK_WEIGHTS changes any of the points below; the method in force is
written into every signed-off assessment and its Art 5 report, so a level can be recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from tutela.errors import ConfigurationError
from tutela.risk.factors import CHOICES, FUNCTIONS, PartFactors
from tutela.risk.figures import PartFigures
from tutela.settings import Settings

METHOD_NAME = "tutela-points/1"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


# Points of each function present, each answer (`factor.answer`), and each figure above zero.
DEFAULT_WEIGHTS: MappingProxyType[str, int] = MappingProxyType(
    {
        "direct_messaging": 2,
        "image_video_sharing": 2,
        "live_streaming": 2,
        "public_spaces": 1,
        "private_spaces": 1,
        "contact_with_strangers": 2,
        "ephemeral_content": 1,
        "end_to_end_encryption": 1,
        "age_assurance.none": 2,
        "age_assurance.self_declaration": 1,
        "age_assurance.estimation": 0,
        "age_assurance.verification": 0,
        "user_reporting.none": 2,
        "user_reporting.basic": 1,
        "user_reporting.child_friendly": 0,
        "children_use.not_allowed": 0,
        "children_use.unlikely": 1,
        "children_use.likely": 2,
        "children_use.targeted": 3,
        "figures.matches": 1,
        "figures.confirmed_reports": 3,
    }
)


@dataclass(frozen=True, slots=True)
class PartScore:
    score: int
    level: RiskLevel
    # What gave points, name → points, for the officer and the authority to follow.
    points: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {"score": self.score, "level": self.level.value, "points": self.points}


@dataclass(frozen=True, slots=True)
class RiskMethod:
    weights: MappingProxyType[str, int]
    high_score: int
    medium_score: int

    @classmethod
    def of(cls, settings: Settings) -> RiskMethod:
        weights = dict(DEFAULT_WEIGHTS)
        for name, points in settings.risk_weights:
            if name not in weights:
                raise ConfigurationError(
                    f"TUTELA_RISK_WEIGHTS names {name!r}; names are {', '.join(weights)}"
                )
            weights[name] = points
        if settings.risk_medium_score > settings.risk_high_score:
            raise ConfigurationError(
                "TUTELA_RISK_MEDIUM_SCORE must not be above TUTELA_RISK_HIGH_SCORE"
            )
        return cls(MappingProxyType(weights), settings.risk_high_score, settings.risk_medium_score)

    def score(self, factors: PartFactors, figures: PartFigures) -> PartScore:
        given: list[str] = [name for name in FUNCTIONS if getattr(factors, name)]
        given += [f"{name}.{getattr(factors, name).value}" for name in CHOICES]
        if figures.matches:
            given.append("figures.matches")
        if figures.confirmed_reports:
            given.append("figures.confirmed_reports")
        points = {name: self.weights[name] for name in given if self.weights[name]}
        total = sum(points.values())
        return PartScore(total, self.level_of(total), points)

    def level_of(self, score: int) -> RiskLevel:
        if score >= self.high_score:
            return RiskLevel.HIGH
        if score >= self.medium_score:
            return RiskLevel.MEDIUM
        return RiskLevel.LOW

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": METHOD_NAME,
            "weights": dict(self.weights),
            "high_from": self.high_score,
            "medium_from": self.medium_score,
        }
