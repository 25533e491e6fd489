"""The Wilson score interval of a proportion: the confidence interval the yearly figures give
with every measured error rate. Unlike the normal approximation it stays inside [0, 1] and is
honest for small counts and for rates near 0, which is where detection error rates live."""

from __future__ import annotations

import math
from dataclasses import dataclass

# The standard normal quantile for a two-sided 95 % interval.
Z_95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class Proportion:
    """`successes` of `trials`, with its Wilson interval; no trials give no rate at all."""

    successes: int
    trials: int
    rate: float | None
    low: float | None
    high: float | None

    def as_dict(self) -> dict[str, object]:
        return {
            "count": self.successes,
            "of": self.trials,
            "rate": _rounded(self.rate),
            "ci95_low": _rounded(self.low),
            "ci95_high": _rounded(self.high),
        }


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval (Wilson 1927; Newcombe 1998, method 3) of successes/trials."""
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError("a proportion needs 0 <= successes <= trials and trials > 0")
    n = float(trials)
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = (z / (1 + z2 / n)) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # Rounding may leave the bounds a hair outside [0, 1] at p = 0 or 1.
    return max(0.0, centre - half), min(1.0, centre + half)


def proportion(successes: int, trials: int) -> Proportion:
    if trials == 0:
        return Proportion(successes, 0, None, None, None)
    low, high = wilson_interval(successes, trials)
    return Proportion(successes, trials, successes / trials, low, high)


def _rounded(value: float | None) -> float | None:
    # Six places: far finer than any interval's width, and stable across platforms' float print.
    return None if value is None else round(value, 6)
