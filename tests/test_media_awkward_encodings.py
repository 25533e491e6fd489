"""Awkward encodings of a photo hash like the same pixels stored plainly.

CMYK/YCCK JPEG, 16-bit PNG, transparency (ignored, as the reference ignores it), progressive JPEG, animation and EXIF orientation are all
legitimate ways to store a picture; a re-encoded known image must still match. Each test runs in
both PDQ modes. The photo is wide enough (800 px) that fast mode really reduces before hashing.
"""

from __future__ import annotations

import io
from functools import cache

import numpy as np
import pytest
from PIL import Image
from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_bytes

from hostile_files import (
    alpha_mask,
    animated,
    cmyk_jpeg,
    encode,
    exif_with_orientation,
    jpeg,
    palette_with_transparency,
    photo,
    png16,
    ycck_jpeg,
)
from tutela.media import decode_image
from tutela.signals.hashing import pdq_of_bytes
from tutela.signals.pdq import PdqMode, PdqSignal, pdq_of_pixels

WIDTH = 800
# Measured with Pillow 13 / libjpeg-turbo: every pair below is 0–2 bits apart in both modes.
# Unrelated photos are ~128 apart and PDQ's match threshold is 31, so 4 is a tight bound.
MAX_BITS = 4
MODES = list(PdqMode)


@cache
def source() -> np.ndarray:
    return photo("chelsea", WIDTH)


@cache
def other_photo() -> np.ndarray:
    height, width = source().shape[:2]
    return np.asarray(Image.fromarray(photo("coffee", WIDTH)).resize((width, height)))


def png(pixels: np.ndarray, mode: str | None = None) -> bytes:
    return encode(Image.fromarray(pixels, mode), "PNG", compress_level=1)


def pdq(data: bytes, mode: PdqMode) -> str:
    return pdq_of_bytes(data, mode=mode).hash


def distance(a: bytes, b: bytes, mode: PdqMode) -> int:
    return PdqSignal.distance(pdq(a, mode), pdq(b, mode))


def grey_source() -> np.ndarray:
    return np.asarray(Image.fromarray(source()).convert("L"))


def rgba_source() -> np.ndarray:
    rgb = source()
    return np.dstack([rgb, alpha_mask(*rgb.shape[:2])])


# --- colour spaces -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_cmyk_jpeg_hashes_close_to_rgb_jpeg_of_the_same_photo(mode: PdqMode) -> None:
    assert distance(cmyk_jpeg(source()), jpeg(source()), mode) <= MAX_BITS


@pytest.mark.parametrize("mode", MODES)
def test_cmyk_jpeg_hashes_close_to_the_plain_png(mode: PdqMode) -> None:
    assert distance(cmyk_jpeg(source()), png(source()), mode) <= MAX_BITS


@pytest.mark.parametrize("mode", MODES)
def test_ycck_jpeg_hashes_close_to_rgb_jpeg_of_the_same_photo(mode: PdqMode) -> None:
    assert distance(ycck_jpeg(source()), jpeg(source()), mode) <= MAX_BITS


def test_ycck_jpeg_decodes_to_the_colours_of_the_photo() -> None:
    # Guards the crafted file itself: a wrong YCCK conversion would still hash close (PDQ sees
    # luminance structure) but would show here as colours far off.
    decoded = decode_image(ycck_jpeg(source())).pixels.astype(np.int16)
    assert np.abs(decoded - source()).mean() < 4.0


# --- bit depth -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_16_bit_grey_png_hashes_as_the_8_bit_grey_png(mode: PdqMode) -> None:
    grey = grey_source()
    assert pdq(png16(grey.astype(np.uint16) * 257), mode) == pdq(png(grey), mode)


@pytest.mark.parametrize("mode", MODES)
def test_16_bit_rgb_png_hashes_as_the_8_bit_rgb_png(mode: PdqMode) -> None:
    rgb = source()
    assert pdq(png16(rgb.astype(np.uint16) * 257), mode) == pdq(png(rgb), mode)


def test_dark_16_bit_png_is_scaled_down_not_stretched_to_full_brightness() -> None:
    dark = grey_source().astype(np.uint16)  # 16-bit values 0..255: almost black
    pixels = decode_image(png16(dark), grey=True).pixels
    assert pixels.max() <= 1


@pytest.mark.parametrize("mode", MODES)
def test_bilevel_png_hashes_as_the_same_pixels_in_grey(mode: PdqMode) -> None:
    bilevel = Image.fromarray(grey_source()).convert("1")
    grey = np.asarray(bilevel.convert("L"))
    assert pdq(encode(bilevel, "PNG"), mode) == pdq(png(grey), mode)


# --- transparency: ignored, as the reference tools ignore it ------------------------------------
# Meta's PDQ tools, pdqhash and python-threatexchange hash the colour values stored under alpha;
# lists made with them must match our hashes of the same files (issue 16).


def reference_pdq(data: bytes) -> str:
    """python-threatexchange's PDQ of a file: the path HMA uses."""
    return pdq_from_bytes(data)[0]


def pdqhash_of_colours(image: Image.Image) -> str:
    """pdqhash (Meta's C++) over the image's stored colours, as Meta's photo hasher reads them."""
    return pdq_of_pixels(np.asarray(image.convert("RGB"))).hash


def test_rgba_png_hashes_bit_for_bit_as_the_reference_in_exact_mode() -> None:
    data = png(rgba_source(), "RGBA")
    assert pdq(data, PdqMode.EXACT) == reference_pdq(data)


def test_rgba_png_decodes_to_exactly_its_stored_colours() -> None:
    rgba = rgba_source()
    assert np.array_equal(decode_image(png(rgba, "RGBA")).pixels, rgba[..., :3])


def test_an_almost_fully_transparent_png_hashes_as_the_reference_and_stays_matchable() -> None:
    rgba = rgba_source().copy()
    rgba[..., 3] = 0
    rgba[:4, :4, 3] = 255
    data = png(rgba, "RGBA")
    ours = pdq_of_bytes(data, mode=PdqMode.EXACT)
    assert ours.hash == reference_pdq(data)
    assert ours.quality == pdq_from_bytes(data)[1] and ours.matchable


def test_la_png_hashes_bit_for_bit_as_the_reference_in_exact_mode() -> None:
    la = np.dstack([grey_source(), alpha_mask(*grey_source().shape)])
    data = png(la, "LA")
    assert pdq(data, PdqMode.EXACT) == reference_pdq(data)


@pytest.mark.parametrize("kind", ["RGBA", "LA", "P"])
def test_fast_mode_stays_near_exact_mode_on_transparent_images(kind: str) -> None:
    if kind == "RGBA":
        data = png(rgba_source(), "RGBA")
    elif kind == "LA":
        data = png(np.dstack([grey_source(), alpha_mask(*grey_source().shape)]), "LA")
    else:
        data = encode(palette_with_transparency(source()), "PNG")
    assert PdqSignal.distance(pdq(data, PdqMode.FAST), pdq(data, PdqMode.EXACT)) <= MAX_BITS


def test_palette_png_with_transparency_hashes_its_palette_colours_bit_for_bit() -> None:
    # Meta's photo hasher reads palette colours; python-threatexchange hands pdqhash the palette
    # *indices* of a P image instead, a hash of no perceptual meaning, which we do not copy.
    image = palette_with_transparency(source())
    data = encode(image, "PNG")
    assert pdq(data, PdqMode.EXACT) == pdqhash_of_colours(Image.open(io.BytesIO(data)))
    assert pdq(data, PdqMode.EXACT) != reference_pdq(data)


def test_palette_helper_makes_a_real_transparent_colour() -> None:
    image = palette_with_transparency(source())
    assert (np.asarray(image.convert("RGBA"))[..., 3] == 0).mean() > 0.01


# --- JPEG variants -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_progressive_jpeg_hashes_as_the_baseline_jpeg(mode: PdqMode) -> None:
    assert distance(jpeg(source(), progressive=True), jpeg(source()), mode) <= MAX_BITS


@pytest.mark.parametrize("mode", MODES)
def test_exif_rotated_jpeg_hashes_its_stored_pixels_unrotated(mode: PdqMode) -> None:
    rotated = jpeg(source(), exif=exif_with_orientation(6))
    assert pdq(rotated, mode) == pdq(jpeg(source()), mode)


def test_exif_rotated_jpeg_decodes_at_its_stored_size() -> None:
    image = decode_image(jpeg(source(), exif=exif_with_orientation(6)))
    assert (image.height, image.width) == source().shape[:2]


@pytest.mark.parametrize("mode", MODES)
def test_exif_rotated_jpeg_matches_a_dihedral_variant_of_the_displayed_picture(
    mode: PdqMode,
) -> None:
    stored = pdq(jpeg(source(), exif=exif_with_orientation(6)), mode)
    displayed = np.ascontiguousarray(np.rot90(source(), k=-1))  # orientation 6: 90° clockwise
    variants = pdq_of_pixels(displayed, dihedral=True).dihedral
    assert variants is not None
    assert PdqSignal.distance(stored, variants[0]) > 31  # not a match as displayed...
    assert min(PdqSignal.distance(stored, v) for v in variants) <= MAX_BITS  # ...but rotated


# --- animation: the first frame counts -----------------------------------------------------------


def _gif_frames() -> list[np.ndarray]:
    return [np.asarray(Image.fromarray(f).quantize(256).convert("RGB")) for f in _two_frames()]


def _two_frames() -> list[np.ndarray]:
    return [source(), other_photo()]


@pytest.mark.parametrize("mode", MODES)
def test_animated_gif_hashes_its_first_frame(mode: PdqMode) -> None:
    frames = _gif_frames()
    data = animated("GIF", frames)
    assert distance(data, png(frames[0]), mode) <= MAX_BITS
    assert distance(data, png(frames[1]), mode) > 31


@pytest.mark.parametrize("mode", MODES)
def test_animated_webp_hashes_its_first_frame(mode: PdqMode) -> None:
    frames = _two_frames()
    data = animated("WEBP", frames, lossless=True, method=0)
    assert distance(data, png(frames[0]), mode) <= MAX_BITS
    assert distance(data, png(frames[1]), mode) > 31


@pytest.mark.parametrize("mode", MODES)
def test_animated_png_hashes_its_first_frame(mode: PdqMode) -> None:
    frames = _two_frames()
    data = animated("PNG", frames, compress_level=1)
    assert distance(data, png(frames[0]), mode) <= MAX_BITS
    assert distance(data, png(frames[1]), mode) > 31
