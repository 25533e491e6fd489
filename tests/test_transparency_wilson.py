"""The Wilson score interval, checked against the published values of Newcombe (1998),
"Two-sided confidence intervals for the single proportion", Statistics in Medicine 17, table I
(method 3: score interval without continuity correction)."""

from __future__ import annotations

import pytest

from tutela.transparency.wilson import proportion, wilson_interval

NEWCOMBE_TABLE_I = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(("successes", "trials", "low", "high"), NEWCOMBE_TABLE_I)
def test_wilson_interval_matches_newcombes_published_values(
    successes: int, trials: int, low: float, high: float
) -> None:
    found = wilson_interval(successes, trials)
    assert found == pytest.approx((low, high), abs=5e-5)


def test_wilson_interval_of_all_successes_mirrors_none() -> None:
    low, high = wilson_interval(20, 20)
    assert (round(1 - high, 12), round(1 - low, 4)) == (0.0, 0.1611)


def test_a_proportion_of_no_trials_has_no_rate_and_no_interval() -> None:
    assert proportion(0, 0).as_dict() == {
        "count": 0,
        "of": 0,
        "rate": None,
        "ci95_low": None,
        "ci95_high": None,
    }


def test_wilson_interval_refuses_more_successes_than_trials() -> None:
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
