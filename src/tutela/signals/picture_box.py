"""Where a picture sits inside an app's frame or under a caption: rectangles with strong edges.

A caption bar or the chrome of an app around a screenshot is not uniform (text, icons, bars of
several colours), so it cannot be found by peeling near-constant lines; but the picture meets it
along straight lines. Each pixel boundary between two rows (columns) is an edge where the grey
level steps by at least EDGE_STEP; a side of the picture is a row (column) where such steps run
along most of the side's span. Candidate lines are the rows and columns with a long stretch of
steps (projection profiles over a sliding window), plus the image's own borders; every rectangle
of candidate lines whose four sides are edges along at least SIDE_COVERAGE of their length, and
whose outside along each inner side is flat (frame, not more picture), is a picture box. The
largest few (not the whole image) become query variants, boxes more than a line or two from a
larger one first.
"""

from __future__ import annotations

import numpy as np

# Grey levels a pixel must differ from the one two lines across to count as a step (the
# picture's border blurred over a pixel by scaling or JPEG still shows).
EDGE_STEP = 20
# Share of a side's length that must be steps.
SIDE_COVERAGE = 0.75
# A picture is at least this share of the frame's width and of its height.
MIN_SHARE = 0.2
# Candidate lines per direction (strongest first, neighbours merged).
MAX_LINES = 16
# A strip this many lines wide just outside an inner side must be flat there: this share of
# its pixels within FLAT_LEVELS of the strip's median, or of a second tone (text on a bar).
STRIP = 2
FLAT_SHARE = 0.8
FLAT_LEVELS = 6
# Lines next to each side of a box, inside it, of which one at least must be busy.
INSIDE = 3
# A line is busy (picture) when at least this share of its neighbouring pixels differ.
BUSY_SHARE = 0.35
# A picture box has at least this share of busy rows and columns.
PICTURE_SHARE = 0.9
# Boxes whose sides all lie within this share of the image's side (and at least NEAR_LINES
# lines) of a larger box's found already are nearly the same guess: tried only when no
# different box is left (a desktop screenshot's largest boxes were the picture with a strip of
# the text under it, twice, and never the picture alone).
NEAR_SHARE = 0.01
NEAR_LINES = 2
# A box is at least MIN_SHARE of each side, so it holds a whole cell of a GRID × GRID grid over
# the image; inside a picture most lines are busy within any cell. Where no cell has this share
# of its rows and of its columns busy, no box can pass PICTURE_SHARE and the search is skipped
# (drawings of flat shapes, text on a plain ground). The look costs a tenth of the search; on
# the accuracy harness's 11,200 files it turned away no box the search would have found.
GRID = 10
CELL_PICTURE_SHARE = 0.8


def picture_boxes(grey: np.ndarray, limit: int = 2) -> list[tuple[int, int, int, int]]:
    """Up to `limit` (top, bottom, left, right) boxes of a picture inside a frame, largest
    first; none when no rectangle of strong edges other than the whole image is found."""
    height, width = grey.shape
    if min(height, width) < 16 or not _picture_cell(grey):
        return []
    g = grey.astype(np.int16)
    # Boundary k lies between lines k-1 and k; its step compares line k+1 with line k-2, so a
    # border blurred over a pixel by scaling or JPEG still shows. Boundaries 0 and the last are
    # the image's own borders. Prefix sums of steps run down axis 0 (numpy sums whole rows at
    # a time that way, five times faster than along them): `across[x, k]` counts the steps on
    # row boundary k left of column x, `down[y, k]` those on column boundary k above row y.
    rows = np.zeros((height + 1, width), bool)
    rows[1:height] = _steps(g)
    across = np.zeros((width + 1, height + 1), np.int32)
    np.cumsum(rows.T, axis=0, out=across[1:])
    cols = np.zeros((height, width + 1), bool)
    cols[:, 1:width] = _steps(g.T).T
    down = np.zeros((height + 1, width + 1), np.int32)
    np.cumsum(cols, axis=0, out=down[1:])
    tops = _candidates(across, width)
    lefts = _candidates(down, height)
    t, b = _pairs(tops, height)
    left, right = _pairs(lefts, width)
    if not len(t) or not len(left):
        return []
    tt, ll = t[:, None], left[None, :]
    bb, rr = b[:, None], right[None, :]
    span_w, span_h = (rr - ll).astype(np.float32), (bb - tt).astype(np.float32)
    top_ok = (tt == 0) | ((across[rr, tt] - across[ll, tt]) >= SIDE_COVERAGE * span_w)
    bottom_ok = (bb == height) | ((across[rr, bb] - across[ll, bb]) >= SIDE_COVERAGE * span_w)
    left_ok = (ll == 0) | ((down[bb, ll] - down[tt, ll]) >= SIDE_COVERAGE * span_h)
    right_ok = (rr == width) | ((down[bb, rr] - down[tt, rr]) >= SIDE_COVERAGE * span_h)
    whole = (tt == 0) & (bb == height) & (ll == 0) & (rr == width)
    ok = top_ok & bottom_ok & left_ok & right_ok & ~whole
    if ok.any():
        ok &= _tight_all(grey, tt, bb, ll, rr)
    found: list[tuple[int, int, int, int]] = []
    # A near one is kept for a slot no different box fills: a line off moves PDQ a few bits,
    # sometimes to the right side of the threshold (phone screenshots).
    spare: list[tuple[int, int, int, int]] = []
    area = np.where(ok, span_w * span_h, 0)
    for flat in np.argsort(area, axis=None)[::-1][: int(ok.sum())]:
        i, j = np.unravel_index(flat, area.shape)
        box = (int(t[i]), int(b[i]), int(left[j]), int(right[j]))
        near = any(_near(box, other, height, width) for other in found)
        if near and len(spare) >= limit - len(found):
            continue
        if _framed(grey, box) and pictureness(grey, box) >= PICTURE_SHARE:
            (spare if near else found).append(box)
            if len(found) >= limit:
                break
    return found + spare[: limit - len(found)]


def _picture_cell(grey: np.ndarray) -> bool:
    """Whether a cell of the GRID × GRID grid has CELL_PICTURE_SHARE of its rows and of its
    columns busy (busy_lines, within the cell)."""
    rows, cols = grey.shape[0] // GRID, grey.shape[1] // GRID
    if min(rows, cols) < 2:
        return True  # cells too small to judge: search
    g = grey[: rows * GRID, : cols * GRID]
    busy_cols = _busy_columns(g, rows, cols) >= CELL_PICTURE_SHARE
    if not busy_cols.any():
        return False  # rows need not be looked at
    busy_rows = _busy_columns(np.ascontiguousarray(g.T), cols, rows).T >= CELL_PICTURE_SHARE
    return bool((busy_rows & busy_cols).any())


def _busy_columns(g: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """(GRID, GRID): the share of each cell's columns that are busy within the cell, for `g`
    of GRID × GRID cells of rows × cols pixels (counted down the columns: numpy sums whole
    lines at a time that way)."""
    down = np.zeros(g.shape, bool)
    np.not_equal(g[1:], g[:-1], out=down[:-1])
    down[rows - 1 :: rows] = False  # no pair across a cell's side
    steps = down.reshape(GRID, rows, GRID * cols).sum(axis=1, dtype=np.int32)
    busy = steps >= BUSY_SHARE * (rows - 1)
    return np.asarray(busy.reshape(GRID, GRID, cols).mean(axis=2))


def _near(
    box: tuple[int, int, int, int], other: tuple[int, int, int, int], height: int, width: int
) -> bool:
    """Whether every side of `box` lies within NEAR_SHARE (or NEAR_LINES) of `other`'s."""
    near_h = max(NEAR_LINES, NEAR_SHARE * height)
    near_w = max(NEAR_LINES, NEAR_SHARE * width)
    limits = (near_h, near_h, near_w, near_w)
    return all(abs(a - b) <= limit for a, b, limit in zip(box, other, limits, strict=True))


def _tight_all(
    grey: np.ndarray, tt: np.ndarray, bb: np.ndarray, ll: np.ndarray, rr: np.ndarray
) -> np.ndarray:
    """For boxes (tt, bb, ll, rr) (broadcast): whether picture starts right inside every side, one
    of the INSIDE lines next to each side being busy (else the box still holds a margin of
    the frame)."""
    height, width = grey.shape
    inside = np.arange(1, INSIDE + 1)
    # Only the lines just inside a candidate side are looked at: their prefix sums of
    # neighbours that differ, down axis 0 (see picture_boxes), indexed through `row_at`/`col_at`.
    offsets = inside[:, None]
    rows, row_at = _lines_at(height, tt.ravel() + offsets, bb.ravel() - 1 - offsets)
    cols, col_at = _lines_at(width, ll.ravel() + offsets, rr.ravel() - 1 - offsets)
    picked = grey[rows]
    across = np.zeros((width, len(rows)), np.int32)
    np.cumsum((picked[:, 1:] != picked[:, :-1]).T, axis=0, out=across[1:])
    picked = grey[:, cols]
    down = np.zeros((height, len(cols)), np.int32)
    np.cumsum(picked[1:] != picked[:-1], axis=0, out=down[1:])
    need_w = BUSY_SHARE * np.maximum(rr - ll - 1, 1)
    need_h = BUSY_SHARE * np.maximum(bb - tt - 1, 1)
    ok = np.ones(np.broadcast_shapes(tt.shape, ll.shape), bool)
    for side in range(4):
        busy = np.zeros_like(ok)
        for k in inside:
            if side == 0:
                line = row_at[tt + k]
                busy |= across[rr - 1, line] - across[ll, line] >= need_w
            elif side == 1:
                line = row_at[bb - 1 - k]
                busy |= across[rr - 1, line] - across[ll, line] >= need_w
            elif side == 2:
                line = col_at[ll + k]
                busy |= down[bb - 1, line] - down[tt, line] >= need_h
            else:
                line = col_at[rr - 1 - k]
                busy |= down[bb - 1, line] - down[tt, line] >= need_h
        ok &= busy
    return ok


def _lines_at(length: int, *lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct `lines` (ascending) and, per line of `length`, its place among them."""
    wanted = np.zeros(length, bool)
    for some in lines:
        wanted[some] = True
    picked = np.flatnonzero(wanted)
    at = np.zeros(length, np.intp)
    at[picked] = np.arange(len(picked))
    return picked, at


def pictureness(grey: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """The share of the box's rows, or of its columns if less, that are busy: near 1 for a
    picture, less for a box that takes in bars of an app's chrome or lines of a caption."""
    top, bottom, left, right = box
    inside = grey[top:bottom, left:right]
    return float(min(busy_lines(inside).mean(), busy_lines(inside.T).mean()))


def busy_lines(pixels: np.ndarray) -> np.ndarray:
    """Per row of `pixels`: whether it is picture, not frame: a frame's ground and the text or
    icons on it are flat, so most neighbouring pixels along its lines are equal, while in a
    picture (texture, noise, gradients) most differ."""
    steps = pixels[:, 1:] != pixels[:, :-1]
    return np.asarray(steps.mean(axis=1) >= BUSY_SHARE)


def _steps(g: np.ndarray) -> np.ndarray:
    """Per inner row boundary k (1..H-1) of int16 pixels `g`: where line k+1 and line k-2
    (clamped to the image) differ by EDGE_STEP or more, as (H-1, W) flags."""
    padded = np.concatenate([g[:1], g, g[-1:]])  # padded[j] is line j-1, clamped
    return np.asarray(np.abs(padded[3:] - padded[:-3]) >= EDGE_STEP)


def _candidates(sums: np.ndarray, length: int) -> np.ndarray:
    """Lines (columns of `sums`, prefix sums of steps down axis 0) with a stretch of MIN_SHARE of
    `length` mostly steps, strongest per run of neighbouring lines, at most MAX_LINES."""
    window = max(2, round(MIN_SHARE * length))
    stretch = (sums[window:] - sums[:-window]).max(axis=0) / window
    strong = np.flatnonzero(stretch >= SIDE_COVERAGE)
    # A sharp step shows on three neighbouring boundaries: the middle one of the strongest in
    # each run is the step itself; where steps lie close together (a picture, then a line of
    # text right under it) the run's outermost steps are kept too.
    keep: set[int] = set()
    for run in np.split(strong, np.flatnonzero(np.diff(strong) > 1) + 1):
        if len(run):
            top = run[stretch[run] >= stretch[run].max() - 0.02]
            keep.add(int(top[len(top) // 2]))
            if len(run) > 3:
                keep |= {int(run[1]), int(run[-2])}
    best = sorted(keep, key=lambda line: -float(stretch[line]))[:MAX_LINES]
    return np.array(sorted({0, sums.shape[1] - 1, *best}), np.int64)


def _pairs(lines: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) pairs of candidate lines at least MIN_SHARE of `length` apart."""
    a, b = np.meshgrid(lines, lines, indexing="ij")
    keep = (b - a) >= MIN_SHARE * length
    return a[keep], b[keep]


def _framed(grey: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """Whether the strip just outside each inner side of `box` is flat (one or two tones) and
    the strip just inside is not the same flat ground (a line of text on a bar, not the
    picture's border)."""
    top, bottom, left, right = box
    height, width = grey.shape
    pairs = []
    if top > 0:
        outside = grey[max(0, top - 1 - STRIP) : top - 1, left:right]
        pairs.append((outside, grey[top + 1 : top + 1 + STRIP, left:right]))
    if bottom < height:
        outside = grey[bottom + 1 : bottom + 1 + STRIP, left:right]
        pairs.append((outside, grey[max(0, bottom - 1 - STRIP) : bottom - 1, left:right]))
    if left > 0:
        outside = grey[top:bottom, max(0, left - 1 - STRIP) : left - 1]
        pairs.append((outside, grey[top:bottom, left + 1 : left + 1 + STRIP]))
    if right < width:
        outside = grey[top:bottom, right + 1 : right + 1 + STRIP]
        pairs.append((outside, grey[top:bottom, max(0, right - 1 - STRIP) : right - 1]))
    for outside, inside in pairs:
        if outside.size == 0 or inside.size == 0:
            continue
        ground = flat_ground(outside)
        if ground is None or ground in flat_tones(inside):
            return False
    return True


def flat_tones(strip: np.ndarray) -> tuple[int, ...]:
    """The one or two tones of a flat strip (each with its neighbouring bins); () if not flat."""
    counts = np.bincount(strip.ravel() // FLAT_LEVELS, minlength=256 // FLAT_LEVELS + 1)
    near = np.convolve(counts, np.ones(3, np.int64), mode="same")
    first = int(np.argmax(near))
    rest = near.copy()
    rest[max(0, first - 2) : first + 3] = 0
    if near[first] + rest.max() < FLAT_SHARE * strip.size:
        return ()
    second = int(np.argmax(rest))
    return tuple(range(first - 1, first + 2)) + tuple(range(second - 1, second + 2))


def flat_ground(strip: np.ndarray) -> int | None:
    """The most common tone (a bin of FLAT_LEVELS grey levels) of a strip that is flat, that
    is one or two tones (text on a bar) give or take a bin, over FLAT_SHARE of its pixels;
    None when it is not flat."""
    counts = np.bincount(strip.ravel() // FLAT_LEVELS, minlength=256 // FLAT_LEVELS + 1)
    near = np.convolve(counts, np.ones(3, np.int64), mode="same")
    first = int(np.argmax(near))
    near_rest = near.copy()
    near_rest[max(0, first - 2) : first + 3] = 0
    if near[first] + near_rest.max() < FLAT_SHARE * strip.size:
        return None
    return first
