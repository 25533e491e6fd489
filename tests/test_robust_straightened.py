"""Straightened variants: a copy turned 2-5° and cut to the largest upright box inside matches a
robust bank of bare hashes, named by the turn undone (issue 16, item 3: small rotations).

Pictures are a scikit-image photo and a drawn picture; the turn-and-cut is the accuracy
harness's own recipe (bench/accuracy_set.py `rotate`), no abuse material.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from accuracy_edits import accuracy_set
from provider_fixtures import jpeg, png
from tutela.db import Database
from tutela.indicators.banks import create_bank
from tutela.indicators.ledger import add_indicator
from tutela.indicators.matcher import Matcher
from tutela.signals.base import hamming_hex
from tutela.signals.hashing import pdq_of_bytes
from tutela.signals.pdq import PdqHash, PdqMode
from tutela.signals.pdq_fast import fast_grid, pdq_of_grid
from tutela.signals.straightened import ANGLES, straightened_variants

edits = accuracy_set()


def photo(name: str) -> Image.Image:
    return Image.fromarray(getattr(skdata, name)()).convert("RGB")


def pictures() -> dict[str, Image.Image]:
    return {"astronaut": photo("astronaut"), "drawn": edits.drawn_original(3, (480, 360))}


def fast(data: bytes, *, robust: bool) -> PdqHash:
    return pdq_of_bytes(data, mode=PdqMode.FAST, dihedral=True, robust=robust)


def exact(image: Image.Image) -> str:
    return pdq_of_bytes(png(image), mode=PdqMode.EXACT).hash


def matcher_over(database: Database, image: Image.Image, *, robust: bool) -> Matcher:
    create_bank(database, "bank", robust=robust)
    add_indicator(database, "bank", "pdq", exact(image))
    matcher = Matcher(database, use_snapshot=False)
    matcher.load()
    return matcher


@pytest.mark.parametrize("name", ["astronaut", "drawn"])
@pytest.mark.parametrize("degrees", [3, -4])
def test_a_copy_turned_and_cut_matches_a_robust_bank_by_the_turn_undone(
    database: Database, name: str, degrees: int
) -> None:
    original = pictures()[name]
    copy = edits.rotate(original, degrees, cut=True)
    matcher = matcher_over(database, original, robust=True)
    (match,) = matcher.match_pdq(fast(copy, robust=True)) or []
    assert match.variant == f"rotate{degrees:+d}-cut"
    assert match.distance <= 31


def test_a_copy_turned_and_cut_does_not_match_without_robust_matching(
    database: Database,
) -> None:
    original = pictures()["astronaut"]
    copy = edits.rotate(original, 3, cut=True)
    assert hamming_hex(fast(copy, robust=False).hash, exact(original)) > 31
    plain = matcher_over(database, original, robust=False)
    assert plain.match_pdq(fast(copy, robust=False)) == []
    # Variants hashed all the same are not looked up in a bank that has not opted in.
    assert plain.match_pdq(fast(copy, robust=True)) == []


def test_a_turn_between_the_angles_tried_is_still_undone(database: Database) -> None:
    # The variants undo whole degrees; a copy turned 2.5° lands between two of them.
    original = pictures()["drawn"]
    matcher = matcher_over(database, original, robust=True)
    (match,) = matcher.match_pdq(fast(edits.rotate(original, 2.5, cut=True), robust=True)) or []
    assert match.variant in ("rotate+2-cut", "rotate+3-cut")


def test_a_picture_to_its_edges_gets_only_the_straightened_variants() -> None:
    data = jpeg(pictures()["astronaut"], 90)
    names = [name for name, _ in fast(data, robust=True).robust or ()]
    assert names == [f"rotate{degrees:+g}-cut" for degrees in ANGLES]


def test_an_upload_under_the_quality_rule_gets_no_straightened_variant() -> None:
    flat = Image.new("RGB", (320, 240), (120, 130, 140))
    pdq = fast(jpeg(flat, 90), robust=True)
    assert not pdq.matchable
    assert not [name for name, _ in pdq.robust or () if name.endswith("-cut")]


def test_fast_mode_hashes_the_same_through_its_kept_buffer() -> None:
    # The buffer kept for the straightened variants is the one fast mode's hash is made from.
    data = jpeg(pictures()["drawn"], 90)
    grey = np.asarray(Image.open(io.BytesIO(data)).convert("L"))
    grid = fast_grid(grey, stored_width=grey.shape[1], stored_height=grey.shape[0])
    assert grid is not None
    assert pdq_of_grid(grid, dihedral=True) == pdq_of_bytes(data, mode=PdqMode.FAST, dihedral=True)


def test_the_straightened_variants_of_unrelated_pictures_stay_far_from_each_other() -> None:
    one, other = pictures().values()
    grey = np.asarray(one.convert("L"))
    grid = fast_grid(grey, stored_width=grey.shape[1], stored_height=grey.shape[0])
    assert grid is not None
    target = exact(other)
    variants = straightened_variants(grid, grey.shape[1], grey.shape[0])
    assert len(variants) == len(ANGLES)
    assert min(hamming_hex(value, target) for _, value in variants) > 31
