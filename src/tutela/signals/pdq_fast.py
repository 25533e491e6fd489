"""Fast PDQ: the reference algorithm's maths, evaluated only where the hash looks.

Meta's PDQ blurs the whole luma image with two passes of a box (Jarosz) filter, samples a 64×64
grid, takes a 16×16 DCT and thresholds at the median. The blur and the sampling are linear, so the
64 sampled rows and columns are weighted sums of input pixels; we build those weights once per
image shape and apply them as two small banded products — about 1 % of the full-image filter's work.

The weights are built on the *stored* image's geometry even when the pixels were decoded at reduced
resolution (JPEG DCT scaling averages s×s blocks), so a reduced decode is filtered the way the full
image would have been; this keeps fast mode within a few bits of exact.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from tutela.signals.pdq import PdqHash

_SIZE = 64
MIN_HASHABLE_SIDE = 5
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _dct_matrix() -> np.ndarray:
    # D[i][j] = sqrt(2/64)·cos(π/128·(i+1)·(2j+1)): rows 1..16 of the DCT-II basis (DC skipped).
    i = np.arange(1, 17, dtype=np.float64)[:, None]
    j = np.arange(_SIZE, dtype=np.float64)[None, :]
    return (math.sqrt(2.0 / _SIZE) * np.cos(math.pi / 2 / _SIZE * i * (2 * j + 1))).astype(
        np.float32
    )


_DCT = _dct_matrix()


@njit(cache=True, nogil=True)
def _axis_weights(
    full_length: int, reduced_length: int, scale: int
) -> tuple[np.ndarray, np.ndarray]:
    """Weights of the 64 samples along one axis over the reduced pixels.

    Returns (starts (64,), weights (64, band)): sample k = Σ_b weights[k, b]·pixel[starts[k] + b].
    The full-resolution kernel is the reference's two clipped box passes, then summed per block.
    """
    window = (full_length + 2 * _SIZE - 1) // (2 * _SIZE)
    half = (window + 2) // 2
    before = window - half  # a window at o spans [o - before, o + half - 1], clipped
    after = half - 1
    span = 2 * (before + after) + 1
    band = span // scale + 2
    starts = np.zeros(_SIZE, dtype=np.int64)
    weights = np.zeros((_SIZE, band), dtype=np.float32)
    first = np.zeros(span, dtype=np.float64)
    for k in range(_SIZE):
        centre = int(((k + 0.5) * full_length) / _SIZE)
        lo = max(0, centre - 2 * before)
        hi = min(full_length - 1, centre + 2 * after)
        first[:] = 0.0
        # second pass: average over o' in window(centre) of first-pass values at o'
        o_lo = max(0, centre - before)
        o_hi = min(full_length - 1, centre + after)
        inv_outer = 1.0 / (o_hi - o_lo + 1)
        for o in range(o_lo, o_hi + 1):
            i_lo = max(0, o - before)
            i_hi = min(full_length - 1, o + after)
            inv_inner = inv_outer / (i_hi - i_lo + 1)
            for x in range(i_lo, i_hi + 1):
                first[x - lo] += inv_inner
        block_lo = lo // scale
        block_hi = min(hi // scale, reduced_length - 1)
        starts[k] = block_lo
        for x in range(lo, hi + 1):
            b = min(x // scale, block_hi) - block_lo
            weights[k, b] += first[x - lo]
    return starts, weights


@njit(cache=True, nogil=True)
def _sample_grid(
    pixels: np.ndarray,
    row_starts: np.ndarray,
    row_weights: np.ndarray,
    col_starts: np.ndarray,
    col_weights: np.ndarray,
) -> np.ndarray:
    """The reference's blurred-and-decimated 64×64 luma buffer, from grey uint8 pixels."""
    height, width = pixels.shape
    rows = np.zeros((_SIZE, width), dtype=np.float32)
    for k in range(_SIZE):
        for b in range(row_weights.shape[1]):
            r = row_starts[k] + b
            wgt = row_weights[k, b]
            if wgt == 0.0 or r >= height:
                continue
            for c in range(width):
                rows[k, c] += wgt * pixels[r, c]
    grid = np.zeros((_SIZE, _SIZE), dtype=np.float32)
    for k in range(_SIZE):
        for j in range(_SIZE):
            acc = np.float32(0.0)
            for b in range(col_weights.shape[1]):
                c = col_starts[j] + b
                if c < width:
                    acc += col_weights[j, b] * rows[k, c]
            grid[k, j] = acc
    return grid


def _quality(grid: np.ndarray) -> int:
    # As the reference: truncated per-pixel gradients, in percent of full scale, summed, /90.
    vertical = np.trunc((grid[:-1, :] - grid[1:, :]) * 100 / 255)
    horizontal = np.trunc((grid[:, :-1] - grid[:, 1:]) * 100 / 255)
    total = int(np.abs(vertical).sum() + np.abs(horizontal).sum())
    return min(100, total // 90)


def _bits_to_hex(coefficients: np.ndarray) -> str:
    median = np.median(coefficients)
    # Reference bit k = 16·i + j is set when B[i][j] > median; the hex prints bit 255 first.
    bits = (coefficients.reshape(-1) > median)[::-1]
    return bytes(np.packbits(bits)).hex()


def _dihedral_coefficients(b: np.ndarray) -> list[np.ndarray]:
    """The DCT of each rotated/flipped 64×64 grid, from the original's coefficients.

    Flipping a grid axis negates the coefficients of odd index along it (here even i, as the
    basis starts at frequency 1); a transpose transposes. Order as in pdq.DIHEDRAL_NAMES.
    """
    sign = np.where(np.arange(16) % 2 == 0, -1.0, 1.0).astype(np.float32)
    flip_rows = b * sign[:, None]  # grid flipped top-to-bottom
    flip_cols = b * sign[None, :]  # grid flipped left-to-right
    both = flip_rows * sign[None, :]
    return [
        b,
        flip_cols.T,  # numpy rot90 (counter-clockwise) = transpose, then flip top-to-bottom
        both,
        flip_rows.T,
        flip_rows,
        flip_cols,
        b.T,
        both.T,
    ]


def fast_pdq(
    pixels: np.ndarray, *, stored_width: int, stored_height: int, dihedral: bool = False
) -> PdqHash:
    """PDQ of pixels that may be a reduced decode of a stored_width × stored_height image.

    `pixels` is (H, W) grey uint8 (JPEG's own luma) or (H, W, 3) RGB uint8.
    """
    if pixels.ndim == 3:
        grey = np.asarray(pixels, dtype=np.float32) @ _LUMA
    else:
        grey = np.ascontiguousarray(pixels)
    height, width = grey.shape
    if min(height, width) < MIN_HASHABLE_SIDE:
        # As the reference: too small to say anything; an all-zero hash of quality 0.
        return PdqHash(hash="0" * 64, quality=0, dihedral=("0" * 64,) * 8 if dihedral else None)
    scale_y = max(1, round(stored_height / height))
    scale_x = max(1, round(stored_width / width))
    row_starts, row_weights = _axis_weights(stored_height, height, scale_y)
    col_starts, col_weights = _axis_weights(stored_width, width, scale_x)
    grid = _sample_grid(grey, row_starts, row_weights, col_starts, col_weights)
    coefficients = _DCT @ grid @ _DCT.T
    quality = _quality(grid)
    if not dihedral:
        return PdqHash(hash=_bits_to_hex(coefficients), quality=quality)
    hexes = tuple(_bits_to_hex(c) for c in _dihedral_coefficients(coefficients))
    return PdqHash(hash=hexes[0], quality=quality, dihedral=hexes)
