"""bench/accuracy.py measures something: every edit makes a changed, decodable copy of the size
its recipe says, and recall and false matches are counted as defined (so a broken edit or a
miscount cannot pass unseen as a figure)."""

from __future__ import annotations

import importlib.util
import io
import math
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

BENCH = Path(__file__).resolve().parents[1] / "bench" / "accuracy.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_accuracy", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


accuracy = load_bench()
W, H = 200, 160  # no percentage of these falls on .5, so rounding is unambiguous
EDIT_NAMES = [edit.name for edit in accuracy.EDITS]


@pytest.fixture(scope="module")
def original() -> Image.Image:
    image: Image.Image = accuracy.drawn_original(3, (W, H))
    return image


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def expected_size(name: str) -> tuple[int, int] | None:
    """The copy's size for a W×H original, worked out here from each recipe's words."""
    fixed = {
        "resize-50": (100, 80),
        "resize-75": (150, 120),
        "resize-150": (300, 240),
        "resize-200": (400, 320),
        "flip-turn-90": (H, W),
        "flip-turn-270": (H, W),
        # W and H less 2/5/10 % of each
        "crop-centre-2": (196, 157),
        "crop-corner-2": (196, 157),
        "crop-centre-5": (190, 152),
        "crop-corner-5": (190, 152),
        "crop-centre-7": (186, 149),
        "crop-corner-7": (186, 149),
        "crop-centre-10": (180, 144),
        "crop-corner-10": (180, 144),
        # 5/10/20 % of the shorter side (160) on every side
        "border-white-5": (216, 176),
        "border-black-5": (216, 176),
        "border-white-10": (232, 192),
        "border-black-10": (232, 192),
        "border-white-20": (264, 224),
        "border-black-20": (264, 224),
        "letterbox-letterbox-10": (200, 176),
        "letterbox-letterbox-25": (200, 200),
        "letterbox-pillarbox-10": (220, 160),
        "letterbox-pillarbox-25": (250, 160),
        "caption-top-15": (200, 184),
        "caption-bottom-15": (200, 184),
        "caption-top-30": (200, 208),
    }
    if name in fixed:
        return fixed[name]
    if name.startswith(("rotate-", "screenshot-")):
        return None  # checked by their own tests
    return (W, H)  # re-encodes, tone changes, blur, greyscale, the other flips


def test_the_edits_have_distinct_names_and_cover_every_family_of_the_issue() -> None:
    assert len(set(EDIT_NAMES)) == len(EDIT_NAMES)
    families = {edit.family for edit in accuracy.EDITS}
    assert families >= {
        "jpeg",
        "resize",
        "brightness",
        "contrast",
        "gamma",
        "blur",
        "greyscale",
        "webp",
        "flip/turn",
        "crop",
        "border",
        "letterbox",
        "caption",
        "screenshot",
        "rotate",
    }
    assert {edit.group for edit in accuracy.EDITS} == set(accuracy.GROUPS)


@pytest.mark.parametrize("name", EDIT_NAMES)
def test_each_edit_makes_a_decodable_changed_copy_of_the_expected_size(
    original: Image.Image, name: str
) -> None:
    edit = next(e for e in accuracy.EDITS if e.name == name)
    copy = decoded(edit.make(original))
    assert copy.format == {"jpg": "JPEG", "webp": "WEBP", "png": "PNG"}[edit.suffix]
    assert copy.mode == ("L" if name == "greyscale" else "RGB")
    size = expected_size(name)
    if size is not None:
        assert copy.size == size
    if copy.size == original.size:
        difference = np.abs(
            np.asarray(copy.convert("RGB"), np.int16) - np.asarray(original, np.int16)
        )
        assert difference.mean() > 0.2


@pytest.mark.parametrize(
    ("name", "transpose"),
    [
        ("flip-turn-mirror", Image.Transpose.FLIP_LEFT_RIGHT),
        ("flip-turn-upside-down", Image.Transpose.FLIP_TOP_BOTTOM),
        ("flip-turn-90", Image.Transpose.ROTATE_90),
        ("flip-turn-180", Image.Transpose.ROTATE_180),
        ("flip-turn-270", Image.Transpose.ROTATE_270),
    ],
)
def test_a_flip_or_turn_is_the_original_turned_and_nothing_else(
    original: Image.Image, name: str, transpose: Image.Transpose
) -> None:
    edit = next(e for e in accuracy.EDITS if e.name == name)
    copy = np.asarray(decoded(edit.make(original)), np.int16)
    errors = {}
    for other in [None, *Image.Transpose]:
        candidate = np.asarray(original if other is None else original.transpose(other), np.int16)
        if candidate.shape == copy.shape:
            errors[other] = np.abs(copy - candidate).mean()
    assert errors[transpose] < 5  # JPEG q90's loss on the grain
    assert min(errors, key=lambda k: errors[k]) is transpose


@pytest.mark.parametrize("colour", ["white", "black"])
def test_a_border_is_uniform_in_its_colour_around_the_picture(
    original: Image.Image, colour: str
) -> None:
    copy = np.asarray(decoded(accuracy.border(original, 10, colour)), np.int16)
    width = 16  # 10 % of the shorter side
    outer = width // 2  # JPEG may ring into the half of the border next to the picture
    frame = np.concatenate(
        [
            copy[:outer].reshape(-1, 3),
            copy[-outer:].reshape(-1, 3),
            copy[:, :outer].reshape(-1, 3),
            copy[:, -outer:].reshape(-1, 3),
        ]
    )
    target = 255 if colour == "white" else 0
    assert np.abs(frame - target).max() < 8
    inside = copy[width + 4 : -width - 4, width + 4 : -width - 4]
    assert np.abs(inside - target).mean() > 20


def test_letterbox_bars_are_black_and_the_caption_bar_is_white(original: Image.Image) -> None:
    boxed = np.asarray(decoded(accuracy.letterbox(original, 25, "letterbox")), np.int16)
    # 40 rows of bars, 20 each side; JPEG may ring into the half next to the picture.
    assert boxed[:10].max() < 12 and boxed[-10:].max() < 12
    assert np.abs(boxed[24:-24] - 0).mean() > 20
    captioned = np.asarray(decoded(accuracy.caption(original, 30, "top")), np.int16)
    bar = captioned[:48]
    assert (bar > 240).mean() > 0.5 and (bar < 15).mean() > 0.05  # white with black blocks


@pytest.mark.parametrize("kind", ["phone", "desktop"])
def test_a_screenshot_holds_the_picture_inside_a_larger_frame(
    original: Image.Image, kind: str
) -> None:
    shot = decoded(accuracy.screenshot(original, kind))
    assert shot.width > W and shot.height > H
    share = W / shot.width
    assert share == pytest.approx(0.92 if kind == "phone" else 0.6, abs=0.01)
    assert (shot.height > shot.width) == (kind == "phone")
    # The picture is in there, pixel for pixel (PNG), at some offset.
    pixels = np.asarray(shot, np.int16)
    corner = np.asarray(original, np.int16)[:8, :8]
    hits = [
        (y, x)
        for y in range(shot.height - H + 1)
        for x in range(shot.width - W + 1)
        if pixels[y, x, 0] == corner[0, 0, 0]
        and np.array_equal(pixels[y : y + 8, x : x + 8], corner)
    ]
    assert len(hits) == 1


@pytest.mark.parametrize("degrees", [2, 5])
def test_a_rotation_with_corners_grows_the_canvas_and_a_cut_one_keeps_the_shape(
    original: Image.Image, degrees: int
) -> None:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    grown = decoded(accuracy.rotate(original, degrees, cut=False))
    assert abs(grown.width - (W * c + H * s)) <= 2 and abs(grown.height - (W * s + H * c)) <= 2
    assert np.asarray(grown)[0, 0].max() < 12  # a black corner
    cut = decoded(accuracy.rotate(original, degrees, cut=True))
    assert cut.width < W and cut.height < H
    assert cut.width / cut.height == pytest.approx(W / H, abs=0.02)
    # Cut to the largest box inside: no fill left at the corners (a grey picture stays grey).
    grey = Image.new("RGB", (W, H), (128, 128, 128))
    pixels = np.asarray(decoded(accuracy.rotate(grey, degrees, cut=True)), np.int16)
    assert np.abs(pixels - 128).max() <= 3


def test_recall_counts_a_copy_only_when_its_own_original_matched() -> None:
    copies = [
        accuracy.Copy(0, "jpeg"),
        accuracy.Copy(1, "jpeg"),
        accuracy.Copy(2, "jpeg"),
        accuracy.Copy(0, "crop"),
        accuracy.Copy(1, "crop"),
    ]
    # Copy 1 matched only another original; copy 3 matched its own and another one.
    matched = {(0, 0), (1, 2), (2, 2), (3, 0), (3, 1)}
    assert accuracy.recall(copies, matched) == {"jpeg": (2, 3), "crop": (1, 2)}
    by_original = accuracy.recall(copies, matched, key=lambda copy: str(copy.original))
    assert by_original == {"0": (2, 2), "1": (0, 2), "2": (1, 1)}
    assert accuracy.recall(copies, set()) == {"jpeg": (0, 3), "crop": (0, 2)}


def flipped(code: np.ndarray, bits: int) -> np.ndarray:
    """`code` with its first `bits` bits inverted: exactly that far from it."""
    out = np.unpackbits(code.copy())
    out[:bits] ^= 1
    return np.packbits(out)


def test_comparisons_count_every_variant_against_every_hash_of_the_other_originals() -> None:
    rng = np.random.default_rng(5)
    base = rng.integers(0, 256, (2, 32), dtype=np.uint8)
    # Original 0 has one indicator hash, original 1 two (as an add-media bank would).
    indicators = np.stack([base[0], base[1], flipped(base[1], 40)])
    # Copy 0 (of original 0) is queried with 3 variants, copy 1 (of original 1) with one,
    # copy 2 (of original 1) with none (not queried).
    queries = np.stack([flipped(base[0], 3), flipped(base[1], 20), base[1], flipped(base[1], 50)])
    side = accuracy.Side(
        "t",
        indicators,
        np.array([0, 1, 1]),
        queries,
        np.array([0, 0, 0, 1]),
    )
    copies = [accuracy.Copy(0, "e"), accuracy.Copy(1, "e"), accuracy.Copy(1, "f")]
    found = accuracy.compare(side, copies, n_originals=2, chunk=2)
    # Negatives: copy 0's 3 variants × original 1's 2 hashes, copy 1's one variant × 1 hash.
    assert found.comparisons == 3 * 2 + 1 * 1
    # Copy 0 is nearest its own original through its first variant, and reaches original 1
    # exactly through its third (a planted false match at distance 0).
    assert found.closest[0, 0] == 3 and found.closest[0, 1] == 0
    assert found.closest[1, 1] == 10  # 50 bits from one hash, 10 from the other
    assert found.closest[2].tolist() == [257, 257]
    # Copy 0's negatives: ~128, ~128 (first variant), 20, 20 (second), 0, 40 (third).
    assert found.within(31) == 3
    assert found.histogram[0] == 1 and found.histogram[20] == 2 and found.histogram[40] == 1


def test_quantiles_read_from_the_histogram_start_at_the_closest_negative() -> None:
    histogram = np.zeros(257, np.int64)
    histogram[[40, 60, 100]] = [1, 99, 900_000]
    found = accuracy.Comparisons(histogram, np.zeros((0, 0), np.int32))
    assert found.quantile(0) == 40
    assert found.quantile(1e-5) == 60  # the 10th of 900,100
    assert found.quantile(1e-3) == 100
    assert found.within(31) == 0 and found.within(60) == 100


def test_a_tiny_run_finds_re_encoded_and_mirrored_copies_through_the_matcher(
    tmp_path: Path,
) -> None:
    """Two drawn originals through both sides end to end (Tutela's through a bank in SQLite)."""
    edits = [
        e for e in accuracy.EDITS if e.name in ("jpeg-q90", "flip-turn-mirror", "crop-corner-10")
    ]
    originals = [accuracy.Original("drawn-0001"), accuracy.Original("drawn-0002")]
    hashed = [accuracy.hash_original(o, edits, tmp_path) for o in originals]
    assert all(h.plain == h.exact for h in hashed)  # --exact is the reference hash
    copies = [accuracy.Copy(i, c.edit) for i, o in enumerate(hashed) for c in o.copies]
    plain = accuracy.plain_side(hashed, copies, 31)
    ours = accuracy.tutela_side(hashed, 31)
    assert accuracy.recall(copies, plain.matched)["jpeg-q90"] == (2, 2)
    assert accuracy.recall(copies, ours.matched)["jpeg-q90"] == (2, 2)
    assert accuracy.recall(copies, plain.matched)["flip-turn-mirror"] == (0, 2)
    assert accuracy.recall(copies, ours.matched)["flip-turn-mirror"] == (2, 2)
    for side in (plain, ours):
        assert all(copies[c].original == o for c, o in side.matched)
        found = accuracy.compare(side, copies, 2)
        rows, cols = np.nonzero(found.closest <= 31)
        assert set(zip(rows.tolist(), cols.tolist(), strict=True)) == side.matched
    assert len(ours.query_codes) == 8 * len(copies)
