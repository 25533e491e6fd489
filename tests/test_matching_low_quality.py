"""PDQ's quality rule, as the matcher applies it for every caller (issue 16, item 2).

A darkened or blurred copy of a plain picture often falls under PDQ's quality rule (50) while its
hash stays near its original's; plain PDQ (no rule) finds it. Such a query is matched only within
LOW_QUALITY_DISTANCE bits; one under LOW_QUALITY_FLOOR (a uniform picture hashes to noise) never.
In fast mode a quality near either rule, with a candidate, is decided by the exact hash.
"""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
from PIL import Image, ImageEnhance
from skimage import data as skdata

from tutela.db import Database
from tutela.indicators.banks import create_bank
from tutela.indicators.ledger import add_indicator
from tutela.indicators.matcher import CONFIRM_MARGIN, Matcher
from tutela.signals.base import hamming_hex
from tutela.signals.hashing import pdq_of_bytes
from tutela.signals.pdq import (
    LOW_QUALITY_DISTANCE,
    LOW_QUALITY_FLOOR,
    MIN_MATCHABLE_QUALITY,
    PdqHash,
    PdqMode,
    pdq_of_pixels,
)

BANKED = f"{random.Random(16).getrandbits(256):064x}"


def flipped(value: str, bits: int) -> str:
    """`value` with its first `bits` bits inverted: exactly that far from it."""
    number = int(value, 16) ^ (((1 << bits) - 1) << (256 - bits))
    return f"{number:064x}"


@pytest.fixture
def matcher(database: Database) -> Matcher:
    create_bank(database, "known", pdq_threshold=31, review_distance=40)
    add_indicator(database, "known", "pdq", BANKED)
    loaded = Matcher(database, use_snapshot=False)
    loaded.load()
    return loaded


def distances(found: object) -> list[int] | None:
    if found is None:
        return None
    assert isinstance(found, list)
    return [result.distance for result in found]


def test_a_query_under_the_rule_matches_only_within_the_low_quality_distance(
    matcher: Matcher,
) -> None:
    low = MIN_MATCHABLE_QUALITY - 20
    near, far = LOW_QUALITY_DISTANCE - 6, LOW_QUALITY_DISTANCE + 4
    assert distances(matcher.match_pdq(PdqHash(flipped(BANKED, near), low))) == [near]
    assert distances(matcher.match_pdq(PdqHash(flipped(BANKED, far), low))) == []
    # ...while a query over the rule matches at the bank's threshold, as before.
    assert distances(matcher.match_pdq(PdqHash(flipped(BANKED, far), 80))) == [far]


def test_a_query_under_the_rule_gets_no_review_band(matcher: Matcher) -> None:
    review = flipped(BANKED, 35)  # past the threshold (31), within the review distance (40)
    (match,) = matcher.match_pdq(PdqHash(review, 80), include_review=True) or []
    assert match.review
    assert matcher.match_pdq(PdqHash(review, 30), include_review=True) == []


def test_a_bank_threshold_under_the_low_quality_distance_still_bounds_the_match(
    database: Database,
) -> None:
    create_bank(database, "strict", pdq_threshold=8)
    add_indicator(database, "strict", "pdq", BANKED)
    matcher = Matcher(database, use_snapshot=False)
    matcher.load()
    assert distances(matcher.match_pdq(PdqHash(flipped(BANKED, 12), 30))) == []
    assert distances(matcher.match_pdq(PdqHash(flipped(BANKED, 6), 30))) == [6]


def test_a_query_under_the_floor_matches_nothing_not_even_its_own_hash(matcher: Matcher) -> None:
    assert matcher.match_pdq(PdqHash(BANKED, LOW_QUALITY_FLOOR - 1)) == []
    assert distances(matcher.match_pdq(PdqHash(BANKED, LOW_QUALITY_FLOOR))) == [0]


def test_two_uniform_pictures_hash_alike_and_the_floor_keeps_them_apart(database: Database) -> None:
    black = pdq_of_pixels(np.zeros((120, 160, 3), np.uint8))
    other_black = pdq_of_pixels(np.zeros((300, 200, 3), np.uint8))
    assert black.quality < LOW_QUALITY_FLOOR and hamming_hex(black.hash, other_black.hash) == 0
    create_bank(database, "plain")
    add_indicator(database, "plain", "pdq", black.hash)
    matcher = Matcher(database, use_snapshot=False)
    matcher.load()
    assert matcher.match_pdq(other_black) == []


@pytest.mark.parametrize(
    ("quality", "bits", "answer"),
    [
        (30, 2, [2]),  # under the rule, far from its limits: decided fast
        (30, LOW_QUALITY_DISTANCE - 4, None),  # within the margin of the low-quality limit
        (30, LOW_QUALITY_DISTANCE + 6, None),  # beyond it, but within the margin
        (30, LOW_QUALITY_DISTANCE + CONFIRM_MARGIN + 1, []),  # out of reach
        (MIN_MATCHABLE_QUALITY - 2, 2, None),  # exact quality may fall either side of the rule
        (MIN_MATCHABLE_QUALITY + 2, 2, None),
        (LOW_QUALITY_FLOOR + 1, 2, None),  # ...or of the floor
        (LOW_QUALITY_FLOOR - 5, 0, []),  # under the floor by more than the margin
        (MIN_MATCHABLE_QUALITY + 10, 20, [20]),  # over the rule: the bank's threshold, as before
    ],
)
def test_fast_mode_sends_a_quality_near_a_rule_with_a_candidate_to_exact_mode(
    matcher: Matcher, quality: int, bits: int, answer: list[int] | None
) -> None:
    query = PdqHash(flipped(BANKED, bits), quality)
    assert distances(matcher.match_pdq(query, margin=CONFIRM_MARGIN)) == answer


def test_a_darkened_copy_under_the_rule_matches_its_original(database: Database) -> None:
    original = Image.fromarray(skdata.camera()).convert("RGB")  # type: ignore[no-untyped-call]
    encoded = io.BytesIO()
    original.save(encoded, "PNG")
    reference = pdq_of_bytes(encoded.getvalue(), mode=PdqMode.EXACT)
    dark = io.BytesIO()
    ImageEnhance.Brightness(original).enhance(0.12).save(dark, "JPEG", quality=90)
    copy = pdq_of_bytes(dark.getvalue(), mode=PdqMode.EXACT, dihedral=True)
    assert LOW_QUALITY_FLOOR <= copy.quality < MIN_MATCHABLE_QUALITY
    create_bank(database, "known")
    add_indicator(database, "known", "pdq", reference.hash)
    matcher = Matcher(database, use_snapshot=False)
    matcher.load()
    (match,) = matcher.match_pdq(copy) or []
    assert match.distance <= LOW_QUALITY_DISTANCE and match.variant == "original"
