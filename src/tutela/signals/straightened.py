"""Straightened query variants: a copy turned 2-5° and cut to the largest box inside, turned back.

A straightening tool (or an offender) turns a picture a few degrees and cuts it to the biggest
upright box of the same shape inside, losing the corners and 4-10 % of each side. The variant
turns the copy back and widens it to the original's frame, filling what the cut took with the
nearest edge fading to the mean: a whole-frame guess beats hashing the inner box (a crop, which
PDQ does not survive). It is resampled from PDQ's own blurred 64×64 buffer of the copy (no
second decode, no full-size rotation) through a map made once per aspect ratio: every upload
to a robust bank pays for it, so it must stay a gather and a small DCT.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from tutela.signals.pdq_fast import hexes_of_coefficients

# Turns undone (degrees, counter-clockwise as the copy was turned). Resampled from a blurred
# grid, a turn half a degree off costs a few bits (development set: 3.5° cut copies found as
# often as 3° ones), so whole degrees do.
ANGLES = (-5.0, -4.0, -3.0, -2.0, 2.0, 3.0, 4.0, 5.0)
# What the cut took is guessed as the nearest edge sample fading to the copy's mean, by e^-1 per
# this many 64-grid samples beyond the edge (edge alone: 69 % of cut copies within 31 bits on a
# fifth of the development set; fading over 5-8 samples: 73-81 %, on another fifth 75 %).
FILL_DECAY = 6.0
# Aspect ratios within this factor share one resampling map (the sample points then move by
# under a tenth of a grid step).
ASPECT_STEP = 1.002
# The variant is sampled on a 32×32 grid: PDQ's 16 lowest DCT frequencies of 64 samples are
# below its Nyquist limit, and the buffer is already blurred, so a quarter of the work does.
_SIZE = 32
_GRID = 64
_NAMES = tuple(f"rotate{degrees:+g}-cut" for degrees in ANGLES)
_DCT = np.cos(
    math.pi / 2 / _SIZE * np.arange(1, 17)[:, None] * (2 * np.arange(_SIZE)[None, :] + 1)
).astype(np.float32)


def straightened_variants(grid: np.ndarray, width: int, height: int) -> tuple[tuple[str, str], ...]:
    """(`rotate±N-cut`, PDQ hex) per angle in ANGLES, from the copy's 64×64 PDQ buffer `grid`
    and its stored width × height (the aspect the turn is undone in)."""
    index, weights, fill = _resampling(round(math.log(height / width) / math.log(ASPECT_STEP)))
    # A [1 2 1]/4 blur down both axes first: detail the 32 samples cannot hold would fold into
    # PDQ's frequencies (unblurred, 75 % of cut copies found instead of 81 %).
    soft = grid.copy()
    soft[1:-1] = 0.5 * grid[1:-1] + 0.25 * (grid[:-2] + grid[2:])
    rows = soft.copy()
    soft[:, 1:-1] = 0.5 * rows[:, 1:-1] + 0.25 * (rows[:, :-2] + rows[:, 2:])
    # Each sample: its four bilinear neighbours (weighted by how much of the copy it keeps)
    # plus the copy's mean for the rest.
    samples = np.einsum("kaij,kaij->aij", soft.ravel().take(index), weights)
    samples += fill * grid.mean()
    hexes = hexes_of_coefficients(_DCT @ samples @ _DCT.T)
    return tuple(zip(_NAMES, hexes, strict=True))


@functools.lru_cache(maxsize=256)
def _resampling(aspect_step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a height/width of ASPECT_STEP**aspect_step: the flat grid indices (4, angles, 32, 32)
    of each sample's bilinear neighbours, their weights, and the weight of the mean."""
    width, height = 1.0, ASPECT_STEP**aspect_step
    turns = np.radians(np.asarray(ANGLES))[:, None, None]
    cos, sin = np.cos(turns), np.sin(turns)
    # The cut kept `scale` of the original's sides: the largest same-shape box inside the turn.
    scale = np.minimum(
        width / (width * np.abs(cos) + height * np.abs(sin)),
        height / (width * np.abs(sin) + height * np.abs(cos)),
    )
    # Centred coordinates of the original's sample points, in the copy's units.
    k = (np.arange(_SIZE) + 0.5) / _SIZE - 0.5
    x = k[None, None, :] * (width / scale)
    y = k[None, :, None] * (height / scale)
    # Where each lands in the copy's grid (Pillow's counter-clockwise turn, y down), clamped to
    # the edge: what the cut took starts from the nearest edge sample.
    rx = ((cos * x + sin * y) / width + 0.5) * _GRID - 0.5
    ry = ((cos * y - sin * x) / height + 0.5) * _GRID - 0.5
    gx, gy = np.clip(rx, 0, _GRID - 1), np.clip(ry, 0, _GRID - 1)
    x0 = np.minimum(gx.astype(np.intp), _GRID - 2)
    y0 = np.minimum(gy.astype(np.intp), _GRID - 2)
    fx, fy = gx - x0, gy - y0
    corner = y0 * _GRID + x0
    index = np.stack([corner, corner + 1, corner + _GRID, corner + _GRID + 1])
    bilinear = np.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy])
    kept = np.exp(-np.maximum(np.abs(rx - gx), np.abs(ry - gy)) / FILL_DECAY)
    return index, (bilinear * kept).astype(np.float32), (1 - kept).astype(np.float32)
