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
Variants are computed on a small grey copy with the fast PDQ; rotations on a smaller one still.
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
# An edge line is frame, not picture, when this share of its pixels falls in its three most
# common 16-level tone bins (bars, blocks of text, icons on a flat ground).
FRAME_TONE_SHARE = 0.9
_TONE_BINS = 16
# Rounds of peeling the four sides of app chrome (bars inside bars).
FRAME_PASSES = 6
# A border line has this share of its pixels in two adjacent-ish tone bins (JPEG noise aside).
UNIFORM_SHARE = 0.97
# Variants are hashed on the picture scaled down towards this shorter side (fast decodes are
# already near it; PDQ sees a 64×64 grid anyway), when it is over WORK_SLACK times that.
WORK_SIDE = 256
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
    grey: np.ndarray, grid: np.ndarray | None = None
) -> tuple[tuple[str, str], ...]:
    """(variant name, PDQ hex) for each robust variant of (H, W) grey or (H, W, 3) RGB uint8
    pixels; variants under PDQ's quality rule, or that would be too small, are left out.
    `grid`: PDQ's 64×64 buffer of the pixels, for the straightened variants
    (tutela.signals.straightened); None (the upload under PDQ's quality rule) for none."""
    straight: tuple[tuple[str, str], ...] = ()
    if grid is not None:
        straight = straightened_variants(grid, grey.shape[1], grey.shape[0])
    if _busy_edges(grey):
        # A picture to its edges (most uploads): no frame to trim, no corners to fill.
        return straight
    grey = work_grey(grey)
    out: list[tuple[str, str]] = []
    seen: set[tuple[int, int, int, int]] = set()
    trim = frame_box(grey, uniform=True)
    boxes = [("trim", trim)] + [("box", box) for box in picture_boxes(grey, BOXES)]
    for name, box in boxes:
        if box is not None and box not in seen:
            seen.add(box)
            top, bottom, left, right = box
            _add(out, name, grey[top:bottom, left:right])
    # The turn undone on the whole, and, for a copy inside a border all round, within the
    # border too (a picture with a dark surround of its own is trimmed as if bordered).
    bases = [("", grey)]
    if trim is not None and _all_round(trim, grey.shape):
        bases.append(("in-trim", grey[trim[0] : trim[1], trim[2] : trim[3]]))
    for prefix, base in bases:
        if not _fill_on_every_edge(base):
            continue
        image = Image.fromarray(np.ascontiguousarray(base))
        if min(image.size) > ROTATE_SIDE:
            scale = ROTATE_SIDE / min(image.size)
            size = (round(image.width * scale), round(image.height * scale))
            image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
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
    """(H, W) grey uint8 pixels scaled down towards WORK_SIDE on the shorter side: RGB is
    scaled first (in Pillow) and turned grey after, on the fewer pixels."""
    image = Image.fromarray(np.ascontiguousarray(pixels))
    if min(image.size) > WORK_SLACK * WORK_SIDE:
        scale = WORK_SIDE / min(image.size)
        size = (round(image.width * scale), round(image.height * scale))
        image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    out = np.asarray(image)
    if out.ndim == 3:
        out = (np.asarray(out, np.float32) @ _LUMA).round().clip(0, 255).astype(np.uint8)
    return out


def frame_box(
    grey: np.ndarray, *, uniform: bool, passes: int = 0
) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the picture inside a frame, or None when no edge is frame.

    `uniform`: a frame line is near-constant (borders, letterboxes); else it may hold a few
    tones (caption bars, app chrome). Runs of frame lines are peeled from each edge, each judged
    within what is left, so a title bar above a sidebar comes off before the sidebar is judged;
    at most `passes` rounds of the four sides (default: one for `uniform`, else FRAME_PASSES)."""
    count = passes or (1 if uniform else FRAME_PASSES)
    return frame_boxes(grey, uniform=uniform, passes=(count,))[0]


def frame_boxes(
    grey: np.ndarray, *, uniform: bool, passes: tuple[int, ...]
) -> list[tuple[int, int, int, int] | None]:
    """frame_box after each number of `passes` (ascending), from one run of the rounds."""
    height, width = grey.shape
    top, bottom, left, right = 0, height, 0, width
    bins = grey >> 4  # 16 tone bins
    found: list[tuple[int, int, int, int] | None] = []
    # A border is one band per side; app chrome may be several (a title bar above tabs).
    for done in range(1, max(passes) + 1):
        box = (top, bottom, left, right)
        inner = bins[top:bottom, left:right]
        peel_top, ground_top = _peel(inner, uniform)
        peel_bottom, ground_bottom = _peel(inner[::-1], uniform)
        top, bottom = top + peel_top, bottom - peel_bottom
        if bottom - top <= MIN_KEPT * height:
            break
        # A frame has one ground colour: with bars peeled above or below, the sides must match
        # them (else the flat side of a picture of shapes would be taken for frame).
        same = None
        if peel_top or peel_bottom:
            same = ground_top if peel_top else ground_bottom
        inner = bins[top:bottom, left:right].T
        left += _peel(inner, uniform, same)[0]
        right -= _peel(inner[::-1], uniform, same)[0]
        if right - left <= MIN_KEPT * width:
            break
        settled = (top, bottom, left, right) == box
        if done in passes or settled:
            trimmed = max(top / height, 1 - bottom / height, left / width, 1 - right / width)
            kept = None if trimmed < MIN_TRIMMED else (top, bottom, left, right)
            found += [kept] * sum(1 for n in passes if n >= done and (n == done or settled))
        if settled:
            break
    # A guess too far (too little kept) answers None for this and every later count.
    return found + [None] * (len(passes) - len(found))


def _frame_lines(
    bins: np.ndarray, uniform: bool, ground: int | None = None
) -> tuple[np.ndarray, int]:
    """Whether each row of `bins` (tone bins) is frame, and the ground tone judged by: `ground`,
    else the edge line's most common bin. A frame line is near-constant in that tone
    (`uniform`), or of a few tones, that one among them."""
    n, width = bins.shape
    counts = np.bincount((np.arange(n)[:, None] * _TONE_BINS + bins).ravel(), minlength=n * 16)
    counts = counts.reshape(n, _TONE_BINS)
    if ground is None:
        ground = int(np.argmax(counts[0])) if n else 0
    if uniform:
        near = counts[:, max(0, ground - 1) : ground + 2].sum(axis=1)
        return np.asarray(near >= UNIFORM_SHARE * width), ground
    order = np.argsort(counts, axis=1)[:, -3:]
    few = np.take_along_axis(counts, order, axis=1).sum(axis=1) >= FRAME_TONE_SHARE * width
    return np.asarray(few & (order == ground).any(axis=1)), ground


def _peel(bins: np.ndarray, uniform: bool, ground: int | None = None) -> tuple[int, int]:
    """How many leading rows of `bins` are frame, and the ground tone they were judged by.
    Rows are judged in growing chunks until one is not frame (a frame is a small share of the
    picture: judging every row each time cost most of the robust variants' time)."""
    first, edge_ground = _frame_lines(bins[:1], uniform, ground)
    if not first.all():  # the usual case, a picture to its edge: one line looked at
        return 0, edge_ground
    start, chunk = 1, PEEL_CHUNK
    while start < len(bins):
        flags, _ = _frame_lines(bins[start : start + chunk], uniform, edge_ground)
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


def _add(out: list[tuple[str, str]], name: str, pixels: np.ndarray) -> None:
    if min(pixels.shape) < MIN_HASHABLE_SIDE:
        return
    pdq = fast_pdq(
        np.ascontiguousarray(pixels), stored_width=pixels.shape[1], stored_height=pixels.shape[0]
    )
    if pdq.matchable:
        out.append((name, pdq.hash))
