"""Robust query variants: PDQs of an upload with its frame trimmed away or a small rotation undone.

Plain PDQ is blind to a uniform border, a letterbox, a caption bar, an app's frame around a
screenshot and a 2-5° rotation. For banks that opt in (`robust`), the query is also hashed as:
  - `trim`: the largest inner rectangle left after stripping edge rows and columns that are
    near-constant (borders, letterboxes);
  - `box`: up to BOXES rectangles of strong straight edges with flat frame outside and busy
    picture inside (caption bars, app chrome around a screenshot: tutela.signals.picture_box);
  - `rotate±N`: the image turned back by N degrees, cut to the box the original would fill
    had it been rotated onto a larger canvas (black corners); within the trim, if any;
  - `rotate±N-cut`: a copy turned and cut to the largest upright box inside (corners cropped
    away, as straightening tools do), turned back and widened to the original's frame
    (tutela.signals.straightened): every picture gets these, on PDQ's own 64×64 buffer.
Each variant is one more hash through the same index, so each counts in the false-match budget.
A picture busy along all four outermost lines (most uploads: a photo to its edges) has no frame
and no filled corners: it gets only the cheap `-cut` variants, after a look at those four lines.
Frames are found, and what they hold hashed with the fast PDQ, on a small grey copy sampled
from the pixels; rotations are undone on a smooth copy of ROTATE_SIDE lines.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from tutela.signals.pdq_fast import _LUMA, MIN_HASHABLE_SIDE, fast_pdq
from tutela.signals.picture_box import busy_lines, picture_boxes
from tutela.signals.straightened import straightened_variants

# Angles (degrees, counter-clockwise as the copy was turned) undone by a variant: 1° apart, as
# half a degree off costs PDQ up to ~30 bits (measured on scikit-image photos).
ROTATIONS = (-5.0, -4.0, -3.0, -2.0, 2.0, 3.0, 4.0, 5.0)
_TONE_BINS = 16
# A border line has this share of its pixels in two adjacent-ish tone bins (JPEG noise aside).
UNIFORM_SHARE = 0.97
# Frames are looked for on the picture sampled down by a whole factor to at most WORK_SLACK
# times this shorter side (PDQ sees a 64×64 grid anyway). At 160 as many framed copies are
# found as at 256 (bench/accuracy.py: 96.2 against 96.4 %) for 0.07 ms less on a 640×480 JPEG.
WORK_SIDE = 160
WORK_SLACK = 1.25
# Rotations are undone on the picture scaled down to this shorter side (fine textures lose up
# to 40 bits at 128: measured on the harness's turned copies).
ROTATE_SIDE = 256
# Picture boxes (tutela.signals.picture_box) tried per file.
BOXES = 2
# A copy turned onto a larger canvas has this much of each outermost line in the fill colour
# (all but where a corner of the picture touches it).
ROTATED_EDGE_SHARE = 0.6
# Edge lines judged at once when peeling a frame, doubling while all are frame.
PEEL_CHUNK = 16
# A trim that keeps less than this share of either side is a guess too far.
MIN_KEPT = 0.3
# Under this share trimmed from every side the trim variant would repeat the plain hash.
MIN_TRIMMED = 0.02


def robust_variants(
    pixels: np.ndarray, grid: np.ndarray | None = None
) -> tuple[tuple[str, str], ...]:
    """(variant name, PDQ hex) for each robust variant of (H, W) grey or (H, W, 3) RGB uint8
    pixels; variants under PDQ's quality rule, or that would be too small, are left out.
    `grid`: PDQ's 64×64 buffer of the pixels, for the straightened variants
    (tutela.signals.straightened); None (the upload under PDQ's quality rule) for none."""
    straight: tuple[tuple[str, str], ...] = ()
    if grid is not None:
        straight = straightened_variants(grid, pixels.shape[1], pixels.shape[0])
    if _busy_edges(pixels):
        # A picture to its edges (most uploads): no frame to trim, no corners to fill.
        return straight
    # Frames are looked for on a small grey copy, every `factor`-th pixel of every `factor`-th
    # line (no averaging: a frame's edges stay sharp), and what is inside is hashed from it as
    # from a reduced decode. Averaged copies (Pillow's box reduce, or bilinear resampling to
    # 256 lines) cost more and found no more framed copies (bench/accuracy.py: frames 95.3-96.0
    # against 96.2-96.4 %).
    factor = work_factor(pixels)
    grey = work_grey(pixels)
    out: list[tuple[str, str]] = []
    seen: set[tuple[int, int, int, int]] = set()
    trim = frame_box(grey)
    boxes = [("trim", trim)] + [("box", box) for box in picture_boxes(grey, BOXES)]
    for name, box in boxes:
        if box is not None and box not in seen:
            seen.add(box)
            top, bottom, left, right = box
            _add(out, name, grey[top:bottom, left:right], factor)
    # The turn undone on the whole, and, for a copy inside a border all round, within the
    # border too (a picture with a dark surround of its own is trimmed as if bordered).
    cuts = [("", (0, grey.shape[0], 0, grey.shape[1]))]
    if trim is not None and _all_round(trim, grey.shape):
        cuts.append(("in-trim", trim))
    for prefix, (top, bottom, left, right) in cuts:
        if not _fill_on_every_edge(grey[top:bottom, left:right]):
            continue
        image = _rotation_base(
            pixels[top * factor : bottom * factor, left * factor : right * factor]
        )
        for degrees in ROTATIONS:
            turned = _unrotated(image, degrees)
            if turned is not None:
                _add(out, f"rotate{degrees:+g}{prefix and '-' + prefix}", turned)
    return (*out, *straight)


def _all_round(box: tuple[int, int, int, int], shape: tuple[int, ...]) -> bool:
    """Whether `box` leaves at least MIN_TRIMMED of the picture off every side."""
    top, bottom, left, right = box
    height, width = shape[:2]
    cut = min(top / height, 1 - bottom / height, left / width, 1 - right / width)
    return cut >= MIN_TRIMMED


def _busy_edges(pixels: np.ndarray) -> bool:
    """Whether all four outermost lines of the pixels (grey or RGB) are busy (picture)."""
    rows, cols = pixels[[0, -1]], pixels[:, [0, -1]].swapaxes(0, 1)
    if pixels.ndim == 3:
        rows, cols = (
            (np.asarray(lines, np.float32) @ _LUMA).round().clip(0, 255).astype(np.uint8)
            for lines in (rows, cols)
        )
    return bool(busy_lines(rows).all() and busy_lines(cols).all())


def work_grey(pixels: np.ndarray) -> np.ndarray:
    """(H, W) grey uint8: every work_factor-th pixel of every work_factor-th line of the (grey
    or RGB) pixels, at most WORK_SLACK × WORK_SIDE on the shorter side."""
    factor = work_factor(pixels)
    grey = np.ascontiguousarray(pixels[::factor, ::factor])
    if grey.ndim == 3:
        grey = (np.asarray(grey, np.float32) @ _LUMA).round().clip(0, 255).astype(np.uint8)
    return grey


def work_factor(pixels: np.ndarray) -> int:
    """By how much work_grey scales the pixels down (a whole factor)."""
    shorter: int = min(pixels.shape[:2])
    return math.ceil(shorter / (WORK_SLACK * WORK_SIDE))


def _rotation_base(pixels: np.ndarray) -> Image.Image:
    """The (grey or RGB) pixels as a grey picture scaled down (bilinear) to ROTATE_SIDE on the
    shorter side, for the rotations to turn: they need the picture smooth, not just sampled."""
    image = Image.fromarray(np.ascontiguousarray(pixels))
    if min(image.size) > ROTATE_SIDE:
        scale = ROTATE_SIDE / min(image.size)
        size = (round(image.width * scale), round(image.height * scale))
        image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    if image.mode != "L":
        grey = (np.asarray(image, np.float32) @ _LUMA).round().clip(0, 255).astype(np.uint8)
        image = Image.fromarray(grey)
    return image


def frame_box(grey: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the picture inside a uniform frame (a border, a letterbox),
    or None when no edge is frame. The runs of near-constant lines at the top and bottom are
    peeled first, then those at the sides within what is left; with bars peeled above or below,
    the sides must be in their tone (a frame has one ground colour: else the flat side of a
    picture of shapes would be taken for frame)."""
    height, width = grey.shape
    bins = grey >> 4  # 16 tone bins
    peel_top, ground_top = _peel(bins)
    peel_bottom, ground_bottom = _peel(bins[::-1])
    top, bottom = peel_top, height - peel_bottom
    if bottom - top <= MIN_KEPT * height:
        return None  # a guess too far
    same = None
    if peel_top or peel_bottom:
        same = ground_top if peel_top else ground_bottom
    inner = bins[top:bottom].T
    left = _peel(inner, same)[0]
    right = width - _peel(inner[::-1], same)[0]
    if right - left <= MIN_KEPT * width:
        return None
    trimmed = max(top / height, 1 - bottom / height, left / width, 1 - right / width)
    return None if trimmed < MIN_TRIMMED else (top, bottom, left, right)


def _frame_lines(bins: np.ndarray, ground: int | None = None) -> tuple[np.ndarray, int]:
    """Whether each row of `bins` (tone bins) is frame: near-constant in the ground tone
    `ground`, else the first row's most common bin; and that tone."""
    if ground is None:
        ground = int(np.argmax(np.bincount(bins[0], minlength=_TONE_BINS))) if len(bins) else 0
    lowest = max(0, ground - 1)
    # The bins within one of the ground's (uint8 wraps those below `lowest` round to the top).
    near = np.count_nonzero(bins - np.uint8(lowest) <= ground + 1 - lowest, axis=1)
    return np.asarray(near >= UNIFORM_SHARE * bins.shape[1]), ground


def _peel(bins: np.ndarray, ground: int | None = None) -> tuple[int, int]:
    """How many leading rows of `bins` are frame, and the ground tone they were judged by.
    Rows are judged in growing chunks until one is not frame (a frame is a small share of the
    picture: judging every row each time cost most of the robust variants' time)."""
    first, edge_ground = _frame_lines(bins[:1], ground)
    if not first.all():  # the usual case, a picture to its edge: one line looked at
        return 0, edge_ground
    start, chunk = 1, PEEL_CHUNK
    while start < len(bins):
        flags, _ = _frame_lines(bins[start : start + chunk], edge_ground)
        run = _run(flags)
        if run < len(flags):
            return start + run, edge_ground
        start, chunk = start + len(flags), 2 * chunk
    return len(bins), edge_ground


def _run(flags: np.ndarray) -> int:
    """How many leading entries are True."""
    misses = np.flatnonzero(~flags)
    return int(misses[0]) if len(misses) else len(flags)


def _fill_on_every_edge(grey: np.ndarray) -> bool:
    """Whether most of every outermost row and column is one and the same tone: the corners a
    rotation onto a larger canvas leaves (or a border). Other pictures skip the rotations."""
    edges = [grey[0], grey[-1], grey[:, 0], grey[:, -1]]
    tones = [np.bincount(edge >> 4, minlength=_TONE_BINS) for edge in edges]
    grounds = {int(np.argmax(t)) for t in tones}
    return len(grounds) == 1 and all(t.max() >= ROTATED_EDGE_SHARE * t.sum() for t in tones)


def _unrotated(image: Image.Image, degrees: float) -> np.ndarray | None:
    """The image turned back by `degrees`, cut to the original's box had the copy been turned
    on an enlarged canvas (None when no such box fits). Turned and cut to the inscribed box
    instead, a copy is a crop of the original, which PDQ does not survive: not tried."""
    width, height = image.size
    c, s = math.cos(math.radians(abs(degrees))), math.sin(math.radians(abs(degrees)))
    # The copy's canvas is (w·c + h·s) × (w·s + h·c) for an original w × h: solve for w, h.
    det = c * c - s * s
    w = (width * c - height * s) / det
    h = (height * c - width * s) / det
    if min(w, h) <= MIN_HASHABLE_SIDE:
        return None
    # Image.rotate(-degrees) cut to the centred w × h box, sampling only that box: the same
    # affine map as Pillow's rotate, shifted to the box's corner.
    left = round((width - w) / 2)
    top = round((height - h) / 2)
    size = (round((width + w) / 2) - left, round((height + h) / 2) - top)
    angle = math.radians(degrees)
    a, b = round(math.cos(angle), 15), round(math.sin(angle), 15)
    d, e = -b, a
    cx, cy = width / 2.0, height / 2.0
    c = a * (left - cx) + b * (top - cy) + cx
    f = d * (left - cx) + e * (top - cy) + cy
    back = image.transform(
        size, Image.Transform.AFFINE, (a, b, c, d, e, f), Image.Resampling.BILINEAR
    )
    return np.asarray(back)


def _add(out: list[tuple[str, str]], name: str, pixels: np.ndarray, factor: int = 1) -> None:
    """Add the PDQ of `pixels` when matchable; `factor`: they are a copy scaled down by that
    whole factor (box averages), hashed as the stored picture they stand for."""
    if min(pixels.shape[:2]) < MIN_HASHABLE_SIDE:
        return
    height, width = pixels.shape[:2]
    pdq = fast_pdq(pixels, stored_width=width * factor, stored_height=height * factor)
    if pdq.matchable:
        out.append((name, pdq.hash))
