"""Robust variants for captions, screenshots and turns inside a border, the cheap path for
pictures to their edges, and indicator-side crop variants (issue 16, items 3 and crops).

Pictures are scikit-image's photos and drawn shapes; captions and app frames are the accuracy
harness's own recipes (bench/accuracy_set.py: blocks for text, bars, icons), no abuse material.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps
from skimage import data as skdata

from accuracy_edits import accuracy_set
from provider_fixtures import drawn_image
from tutela.media.decode import decode_image
from tutela.signals.base import hamming_hex
from tutela.signals.crops import CROPS, crop_box, crop_variants
from tutela.signals.hashing import pdq_of_bytes
from tutela.signals.pdq import PdqMode
from tutela.signals.picture_box import _picture_cell, busy_lines, picture_boxes
from tutela.signals.robust import robust_variants, work_grey

edits = accuracy_set()
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


def photo(name: str) -> Image.Image:
    return Image.fromarray(getattr(skdata, name)()).convert("RGB")


def pictures() -> list[tuple[str, Image.Image]]:
    drawn = [(f"drawn-{s}", edits.drawn_original(s, (480, 360))) for s in (3, 11)]
    return [(name, photo(name)) for name in PHOTOS] + drawn


def reference(image: Image.Image) -> str:
    out = io.BytesIO()
    image.save(out, "PNG")
    return pdq_of_bytes(out.getvalue(), mode=PdqMode.EXACT).hash


def nearest(data: bytes, target: str) -> tuple[int, str]:
    """The distance and name of the copy's robust variant nearest `target`."""
    pdq = pdq_of_bytes(data, mode=PdqMode.FAST, robust=True)
    found = [(hamming_hex(value, target), name) for name, value in pdq.robust or ()]
    return min(found, default=(256, ""))


@pytest.mark.parametrize(
    "make",
    [
        lambda im: edits.caption(im, 15, "top"),
        lambda im: edits.caption(im, 30, "top"),
        lambda im: edits.caption(im, 15, "bottom"),
        lambda im: edits.screenshot(im, "phone"),
        lambda im: edits.screenshot(im, "desktop"),
    ],
    ids=["caption-top-15", "caption-top-30", "caption-bottom-15", "phone", "desktop"],
)
def test_a_caption_or_app_frame_is_cut_away_by_a_picture_box(make: object) -> None:
    found = 0
    for _, image in pictures():
        distance, name = nearest(make(image), reference(image))  # type: ignore[operator]
        if distance <= 31:
            assert name == "box"
            found += 1
    assert found >= len(pictures()) - 1


def test_the_picture_box_of_a_phone_screenshot_is_the_picture() -> None:
    image = photo("astronaut")
    data = edits.screenshot(image, "phone")
    grey = work_grey(decode_image(data, None).pixels)
    (top, bottom, left, right), *_ = picture_boxes(grey)
    scale = grey.shape[1] / Image.open(io.BytesIO(data)).width
    width = image.width * scale
    assert abs((right - left) - width) <= 3 and abs((bottom - top) - width) <= 3  # square photo


@pytest.mark.parametrize("seed", [1, 13, 25, 37])
def test_a_desktop_screenshot_with_text_right_under_the_picture_yields_the_picture_alone(
    seed: int,
) -> None:
    # A portrait picture fills the window to near its bottom: the largest boxes may take in the
    # strip of text under it (at one working size both guesses did, one line apart); one of
    # the boxes tried must be the picture alone.
    image = edits.drawn_original(seed, (480, 640))
    data = edits.screenshot(image, "desktop")
    assert nearest(data, reference(image))[0] <= 31
    grey = work_grey(decode_image(data, None).pixels)
    scale = grey.shape[1] / Image.open(io.BytesIO(data)).width
    width, height = image.width * scale, image.height * scale
    sizes = [(right - left, bottom - top) for top, bottom, left, right in picture_boxes(grey)]
    assert any(abs(w - width) <= 2 and abs(h - height) <= 2 for w, h in sizes), sizes


def test_a_picture_to_its_edges_gets_no_variant_and_a_framed_one_does() -> None:
    for _, image in pictures():
        grey = np.asarray(image.convert("L"))
        assert busy_lines(np.stack([grey[0], grey[-1]])).all() or robust_variants(grey) == ()
        assert robust_variants(np.asarray(image)) == () or not busy_lines(grey[:1]).all()
    framed = np.asarray(ImageOps.expand(photo("coffee"), 40, fill="white"))
    assert [name for name, _ in robust_variants(framed)][:1] == ["trim"]


def test_a_turn_inside_a_border_is_undone_within_the_trim() -> None:
    image = photo("coffee")
    turned = image.rotate(3, Image.Resampling.BICUBIC, expand=True, fillcolor="black")
    out = io.BytesIO()
    ImageOps.expand(turned, 30, fill="white").save(out, "JPEG", quality=90)
    distance, name = nearest(out.getvalue(), reference(image))
    assert distance <= 31 and name.startswith("rotate")


def test_standard_crops_are_where_their_names_say() -> None:
    assert crop_box(100, 200, 0.9, "centre") == (5, 95, 10, 190)
    assert crop_box(100, 200, 0.9, "top-left") == (0, 90, 0, 180)
    assert crop_box(100, 200, 0.95, "bottom-right") == (5, 100, 10, 200)
    assert len({name for name, _, _ in CROPS}) == len(CROPS) == 14


@pytest.mark.parametrize("percent", [5, 10])
@pytest.mark.parametrize("anchor", ["centre", "corner"])
def test_a_cropped_copy_matches_one_of_its_originals_crop_variants(
    percent: int, anchor: str
) -> None:
    found = 0
    for _, image in pictures():
        variants = crop_variants(np.asarray(image))
        data = edits.crop(image, percent, anchor)
        query = pdq_of_bytes(data, mode=PdqMode.FAST).hash
        plain = hamming_hex(query, reference(image))
        nearest_crop = min(hamming_hex(query, value) for _, value in variants)
        found += nearest_crop <= 31
        assert nearest_crop <= plain or plain <= 31
    assert found >= len(pictures()) - 1


def test_a_drawing_of_flat_shapes_has_no_picture_cell_and_a_captioned_photo_has() -> None:
    # The gate in front of the picture-box search: no cell of the grid busy like a picture
    # (flat shapes, plain ground: most of a node's plain-edged uploads), no search.
    drawn = np.asarray(drawn_image(5, size=640).convert("L"))
    assert not _picture_cell(drawn)
    assert picture_boxes(drawn) == []
    captioned = edits.caption(photo("astronaut"), 15, "top")
    assert _picture_cell(work_grey(decode_image(captioned, None).pixels))
