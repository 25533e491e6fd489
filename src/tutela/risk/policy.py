"""The register's settings in one object: the scoring method, the figure window and the time
after which a signed-off assessment is due again (Art 3(4))."""

from __future__ import annotations

from dataclasses import dataclass, field

from tutela.risk.method import DEFAULT_WEIGHTS, RiskMethod
from tutela.settings import Settings


@dataclass(frozen=True, slots=True)
class RiskPolicy:
    method: RiskMethod = field(default_factory=lambda: RiskMethod(DEFAULT_WEIGHTS, 10, 5))
    figure_months: int = 12
    reassess_months: int = 36

    @classmethod
    def of(cls, settings: Settings) -> RiskPolicy:
        return cls(
            RiskMethod.of(settings),
            max(1, settings.risk_figure_months),
            max(1, settings.risk_reassess_months),
        )
