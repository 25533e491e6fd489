"""Fast matching without recall loss, and robust matching opt-in per bank (issue 16, items 2-3).

Fast-mode PDQ drifts a few bits from exact; `Matcher.match_pdq` with a margin sends every query
whose fast candidate lies that near a threshold back for an exact hash, so the answer is exact
mode's. Robust banks also match a query's robust variants: its frame trimmed, small rotations
undone. Pictures are scikit-image's photos and drawn shapes (no abuse material).
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageFilter, ImageOps
from skimage import data as skdata

from provider_fixtures import drawn_image, jpeg, png
from tutela.db import Database
from tutela.detection.hasher import hash_task
from tutela.detection.pipeline import outcome_of
from tutela.indicators.banks import create_bank, get_bank, set_bank_thresholds
from tutela.indicators.ledger import add_indicator
from tutela.indicators.matcher import CONFIRM_MARGIN, Matcher, MatchResult
from tutela.media import MediaLimits
from tutela.signals.base import hamming_hex
from tutela.signals.hashing import pdq_of_bytes
from tutela.signals.pdq import PdqHash, PdqMode
from tutela.signals.robust import frame_box

PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "immunohistochemistry")
EDITS: dict[str, Callable[[Image.Image], bytes]] = {
    "half": lambda im: jpeg(im.resize((im.width // 2, im.height // 2)), 80),
    "blur": lambda im: jpeg(im.filter(ImageFilter.GaussianBlur(2)), 70),
    "q40": lambda im: jpeg(im, 40),
    "third": lambda im: jpeg(im.resize((im.width // 3, im.height // 3)), 90),
}


def photo(name: str) -> Image.Image:
    pixels = getattr(skdata, name)()
    return Image.fromarray(pixels).convert("RGB")


def fast(data: bytes, *, robust: bool = False) -> PdqHash:
    return pdq_of_bytes(data, mode=PdqMode.FAST, dihedral=True, robust=robust)


def exact(data: bytes) -> PdqHash:
    return pdq_of_bytes(data, mode=PdqMode.EXACT, dihedral=True)


def confirmed(matcher: Matcher, data: bytes) -> list[MatchResult]:
    """What `tutela match` does: fast with the margin, exact when a candidate is that near."""
    found = matcher.match_pdq(fast(data), margin=CONFIRM_MARGIN)
    if found is None:
        found = matcher.match_pdq(exact(data))
    assert found is not None
    return found


def ids(results: list[MatchResult] | None) -> set[int]:
    return {r.indicator_id for r in results or []}


def test_fast_matching_with_confirmation_answers_as_exact_mode_where_fast_alone_does_not(
    database: Database,
) -> None:
    # Each copy whose fast distance differs from its exact one gets a bank whose threshold
    # sits between them: fast mode alone answers wrongly there, exact mode rightly.
    cases = []
    for name in PHOTOS:
        original = photo(name)
        reference = exact(png(original)).hash
        for edit, make in EDITS.items():
            data = make(original)
            e, f = hamming_hex(reference, exact(data).hash), hamming_hex(reference, fast(data).hash)
            if e != f and min(e, f) <= 60:
                cases.append((f"{name}-{edit}", reference, data, min(e, f)))
    assert len(cases) >= 4, "the test set must hold copies on which fast mode drifts"
    differs = 0
    for label, reference, data, threshold in cases:
        create_bank(database, label, pdq_threshold=threshold)
        add_indicator(database, label, "pdq", reference)
        matcher = Matcher(database, use_snapshot=False)
        matcher.load()
        exact_answer = ids(matcher.match_pdq(exact(data)))
        assert ids(confirmed(matcher, data)) == exact_answer, label
        differs += ids(matcher.match_pdq(fast(data))) != exact_answer
        set_bank_thresholds(database, label, pdq_threshold=0, review_distance=None)
    assert differs >= 1  # fast mode alone would have answered otherwise


def test_a_query_with_no_candidate_near_any_threshold_is_answered_without_an_exact_hash(
    database: Database,
) -> None:
    create_bank(database, "known")
    add_indicator(database, "known", "pdq", exact(png(drawn_image(1))).hash)
    matcher = Matcher(database, use_snapshot=False)
    matcher.load()
    assert matcher.match_pdq(fast(jpeg(drawn_image(2))), margin=CONFIRM_MARGIN) == []
    same = matcher.match_pdq(fast(jpeg(drawn_image(1), 95)), margin=CONFIRM_MARGIN)
    assert same is not None and [r.distance < 31 - CONFIRM_MARGIN for r in same] == [True]


def bordered(image: Image.Image) -> bytes:
    return jpeg(ImageOps.expand(image, min(image.size) // 10, fill="white"))


def test_a_bordered_copy_matches_a_robust_bank_by_its_trim_variant(database: Database) -> None:
    original = photo("astronaut")
    create_bank(database, "robust", robust=True)
    add_indicator(database, "robust", "pdq", exact(png(original)).hash)
    matcher = Matcher(database, use_snapshot=False)
    matcher.load()
    (match,) = matcher.match_pdq(fast(bordered(original), robust=True)) or []
    assert (match.bank, match.variant) == ("robust", "trim")
    assert match.distance <= 31
    assert match.as_dict()["variant"] == "trim"


def test_robust_variants_do_not_match_a_bank_that_has_not_opted_in(database: Database) -> None:
    original = photo("astronaut")
    create_bank(database, "plain")
    add_indicator(database, "plain", "pdq", exact(png(original)).hash)
    matcher = Matcher(database, use_snapshot=False)
    matcher.load()
    assert matcher.match_pdq(fast(bordered(original), robust=True)) == []
    set_bank_thresholds(database, "plain", pdq_threshold=31, review_distance=None, robust=True)
    matcher.refresh()
    assert get_bank(database, "plain").robust
    assert [r.variant for r in matcher.match_pdq(fast(bordered(original), robust=True)) or []] == [
        "trim"
    ]


@pytest.mark.parametrize("degrees", [2, 5, -3])
def test_a_copy_turned_a_few_degrees_on_a_larger_canvas_matches_a_robust_bank(
    database: Database, degrees: int
) -> None:
    original = photo("coffee")
    turned = original.rotate(degrees, Image.Resampling.BICUBIC, expand=True, fillcolor="black")
    create_bank(database, "robust", robust=True)
    add_indicator(database, "robust", "pdq", exact(png(original)).hash)
    matcher = Matcher(database, use_snapshot=False)
    matcher.load()
    found = matcher.match_pdq(fast(jpeg(turned), robust=True)) or []
    assert [r.variant.startswith("rotate") for r in found if r.variant] == [True]


def test_a_letterboxed_copy_is_trimmed_to_the_picture() -> None:
    original = photo("camera").convert("L")
    canvas = Image.new("L", (original.width, original.height + 120), 0)
    canvas.paste(original, (0, 60))
    pixels = np.asarray(canvas)
    assert frame_box(pixels) == (60, 60 + original.height, 0, original.width)


def test_the_robust_variants_of_a_picture_are_named_and_stay_within_the_quality_rule() -> None:
    data = bordered(drawn_image(4))
    pdq = fast(data, robust=True)
    assert pdq.robust is not None
    names = [name for name, _ in pdq.robust]
    assert "trim" in names and any(name.startswith("rotate") for name in names)
    assert pdq.as_dict()["robust"] == dict(pdq.robust)
    reread = Image.open(io.BytesIO(data))
    assert reread.size[0] > 320  # the border was there to be trimmed


def test_an_upload_hashed_with_robust_variants_matches_a_robust_bank_by_its_trim(
    database: Database,
) -> None:
    original = photo("astronaut")
    create_bank(database, "robust", robust=True)
    add_indicator(database, "robust", "pdq", exact(png(original)).hash)
    matcher = Matcher(database, use_snapshot=False)
    matcher.load()
    assert matcher.robust
    signals = hash_task((0, bordered(original)), limits=MediaLimits(), robust=matcher.robust)
    outcome = outcome_of(matcher, signals)
    assert [(m.bank, m.variant) for m in outcome.matches] == [("robust", "trim")]
    assert outcome.signals is not None
    assert "robust" not in outcome.signals["pdq"]  # variants are matched, never stored
