"""The risk method: the documented points of each Art 3(2) factor and figure, the levels from the
configured thresholds, and the settings that change them."""

from __future__ import annotations

import dataclasses

import pytest

from tutela.errors import ConfigurationError, InvalidInput
from tutela.risk.factors import AgeAssurance, ChildrenUse, PartFactors, UserReporting, parse_factors
from tutela.risk.figures import MonthFigures, PartFigures
from tutela.risk.method import RiskLevel, RiskMethod
from tutela.settings import Settings

QUIET = PartFigures("chat", (MonthFigures("2026-06"),))
REPORTED = PartFigures("chat", (MonthFigures("2026-06", matches=2, confirmed_reports=1),))
# A chat for teenagers: messaging, pictures, strangers, self-declared ages, a basic report button.
CHAT = PartFactors(
    direct_messaging=True,
    image_video_sharing=True,
    contact_with_strangers=True,
    age_assurance=AgeAssurance.SELF_DECLARATION,
    user_reporting=UserReporting.BASIC,
    children_use=ChildrenUse.LIKELY,
)
# A public forum for adults with verified ages and a child-friendly report button.
FORUM = PartFactors(
    public_spaces=True,
    image_video_sharing=True,
    age_assurance=AgeAssurance.VERIFICATION,
    user_reporting=UserReporting.CHILD_FRIENDLY,
    children_use=ChildrenUse.NOT_ALLOWED,
)


def test_the_score_adds_the_documented_points_of_each_factor() -> None:
    score = RiskMethod.of(Settings()).score(CHAT, QUIET)
    assert score.points == {
        "direct_messaging": 2,
        "image_video_sharing": 2,
        "contact_with_strangers": 2,
        "age_assurance.self_declaration": 1,
        "user_reporting.basic": 1,
        "children_use.likely": 2,
    }
    assert (score.score, score.level) == (10, RiskLevel.HIGH)


def test_a_part_with_few_risky_functions_is_low() -> None:
    score = RiskMethod.of(Settings()).score(FORUM, QUIET)
    assert (score.score, score.level) == (3, RiskLevel.LOW)


def test_matches_and_confirmed_reports_in_the_window_add_their_points() -> None:
    method = RiskMethod.of(Settings())
    score = method.score(FORUM, REPORTED)
    assert score.points["figures.matches"] == 1
    assert score.points["figures.confirmed_reports"] == 3
    assert (score.score, score.level) == (7, RiskLevel.MEDIUM)


def test_thresholds_and_weights_come_from_the_settings() -> None:
    settings = dataclasses.replace(
        Settings(), risk_weights=(("public_spaces", 5),), risk_high_score=8, risk_medium_score=2
    )
    score = RiskMethod.of(settings).score(FORUM, QUIET)
    assert (score.score, score.level) == (7, RiskLevel.MEDIUM)
    assert RiskMethod.of(settings).as_dict()["high_from"] == 8


def test_the_weights_setting_is_read_from_the_environment() -> None:
    settings = Settings.from_env({"TUTELA_RISK_WEIGHTS": "live_streaming=4, children_use.likely=3"})
    assert settings.risk_weights == (("live_streaming", 4), ("children_use.likely", 3))


def test_an_unknown_weight_name_stops_start_up() -> None:
    settings = dataclasses.replace(Settings(), risk_weights=(("streaming", 4),))
    with pytest.raises(ConfigurationError, match="streaming"):
        RiskMethod.of(settings)


def test_a_malformed_weight_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="NAME=POINTS"):
        Settings.from_env({"TUTELA_RISK_WEIGHTS": "live_streaming=lots"})


def test_factors_with_an_unknown_answer_are_refused() -> None:
    with pytest.raises(InvalidInput, match="age_assurance must be one of"):
        parse_factors({"age_assurance": "sometimes"})


def test_factors_with_an_unknown_name_are_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown risk factor 'teleportation'"):
        parse_factors({"teleportation": True})


def test_a_function_must_be_a_yes_or_no() -> None:
    with pytest.raises(InvalidInput, match="live_streaming must be true or false"):
        parse_factors({"live_streaming": "yes"})
