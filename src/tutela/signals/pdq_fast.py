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

import functools
import math

import numpy as np

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


@functools.lru_cache(maxsize=2048)
def _axis_weights(
    full_length: int, reduced_length: int, scale: int
) -> tuple[np.ndarray, np.ndarray]:
    """Weights of the 64 samples along one axis over the reduced pixels, kept for the next file
    of the same geometry (building them was a fifth of a fast hash): uploads come in a few sizes,
    the robust variants' crops in hundreds (2,048 kept take about 12 MB).

    Returns (rows (64, band) of pixel indices, weights (64, band)): sample k is
    Σ_b weights[k, b]·pixel[rows[k, b]]. The full-resolution kernel is the reference's two
    clipped box passes; it is then summed per s×s block of the reduced decode.
    """
    window = (full_length + 2 * _SIZE - 1) // (2 * _SIZE)
    half = (window + 2) // 2
    before = window - half  # the reference's window at o spans [o - before, o + half - 1], clipped
    after = half - 1
    span = 2 * (before + after) + 1
    band = span // scale + 2
    k = np.arange(_SIZE)
    centres = ((k + 0.5) * full_length / _SIZE).astype(np.int64)
    # Second pass: the mean over o in the window at the centre of the first pass at o, which is
    # itself the mean over the window at o. Written as sums of intervals via difference arrays.
    outer = centres[:, None] + np.arange(-before, after + 1)[None, :]
    valid = (outer >= 0) & (outer < full_length)
    # Clamped to the image (outer - before only passes its end where outer is not valid, and
    # outer + after is never negative: after >= before).
    inner_lo = np.maximum(outer - before, 0)
    inner_hi = np.minimum(outer + after, full_length - 1)
    value = np.where(valid, 1.0 / (valid.sum(axis=1)[:, None] * (inner_hi - inner_lo + 1)), 0.0)
    lo = np.maximum(0, centres - 2 * before)
    # Difference arrays, one row of span + 1 per sample, summed into by np.bincount (np.add.at
    # took twice as long: the robust variants' crops need weights of their own for each file).
    row_start = (k * (span + 1))[:, None] - lo[:, None]
    size = _SIZE * (span + 1)
    diff = np.bincount((row_start + inner_lo).ravel(), value.ravel(), size)
    diff -= np.bincount((row_start + inner_hi + 1).ravel(), value.ravel(), size)
    full = np.cumsum(diff.reshape(_SIZE, span + 1), axis=1)[:, :span]
    # Fold the full-resolution kernel onto the reduced pixels (block b holds s source pixels).
    first_block = lo // scale
    blocks = np.minimum((lo[:, None] + np.arange(span)[None, :]) // scale, reduced_length - 1)
    places = (k * band)[:, None] + blocks - first_block[:, None]
    weights = np.bincount(places.ravel(), full.ravel(), _SIZE * band).reshape(_SIZE, band)
    rows = np.minimum(first_block[:, None] + np.arange(band)[None, :], reduced_length - 1)
    weights = weights.astype(np.float32)
    rows.setflags(write=False)
    weights.setflags(write=False)
    return rows, weights


def _sample_grid(
    pixels: np.ndarray,
    row_index: np.ndarray,
    row_weights: np.ndarray,
    col_index: np.ndarray,
    col_weights: np.ndarray,
) -> np.ndarray:
    """The reference's blurred-and-decimated 64×64 luma buffer, from grey pixels."""
    # All 64 weighted row sums in one batched product over the rows each sample needs.
    needed = pixels[row_index.ravel()].astype(np.float32).reshape(_SIZE, row_index.shape[1], -1)
    rows = np.matmul(row_weights[:, None, :], needed)[:, 0]
    grid: np.ndarray = np.einsum("kjb,jb->kj", rows[:, col_index], col_weights)
    return grid


def _quality(grid: np.ndarray) -> int:
    # As the reference: truncated per-pixel gradients, in percent of full scale, summed, /90.
    vertical = np.trunc((grid[:-1, :] - grid[1:, :]) * 100 / 255)
    horizontal = np.trunc((grid[:, :-1] - grid[:, 1:]) * 100 / 255)
    total = int(np.abs(vertical).sum() + np.abs(horizontal).sum())
    return min(100, total // 90)


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
    grid = fast_grid(pixels, stored_width=stored_width, stored_height=stored_height)
    return pdq_of_grid(grid, dihedral=dihedral)


def fast_grid(pixels: np.ndarray, *, stored_width: int, stored_height: int) -> np.ndarray | None:
    """PDQ's blurred and decimated 64×64 luma buffer of the pixels (as fast_pdq takes them), or
    None when they are too small to hash."""
    if pixels.ndim == 3:
        grey = np.asarray(pixels, dtype=np.float32) @ _LUMA
    else:
        grey = np.ascontiguousarray(pixels)
    height, width = grey.shape
    if min(height, width) < MIN_HASHABLE_SIDE:
        return None
    scale_y = max(1, round(stored_height / height))
    scale_x = max(1, round(stored_width / width))
    row_index, row_weights = _axis_weights(stored_height, height, scale_y)
    col_index, col_weights = _axis_weights(stored_width, width, scale_x)
    return _sample_grid(grey, row_index, row_weights, col_index, col_weights)


def pdq_of_grid(grid: np.ndarray | None, *, dihedral: bool = False) -> PdqHash:
    """PDQ (and its quality) of a 64×64 buffer from fast_grid; of None (pixels too small to
    hash), as the reference: an all-zero hash of quality 0."""
    if grid is None:
        return PdqHash(hash="0" * 64, quality=0, dihedral=("0" * 64,) * 8 if dihedral else None)
    coefficients = _DCT @ grid @ _DCT.T
    quality = _quality(grid)
    if not dihedral:
        (single,) = hexes_of_coefficients(coefficients[None])
        return PdqHash(hash=single, quality=quality)
    hexes = tuple(hexes_of_coefficients(np.stack(_dihedral_coefficients(coefficients))))
    return PdqHash(hash=hexes[0], quality=quality, dihedral=hexes)


def hexes_of_coefficients(coefficients: np.ndarray) -> list[str]:
    """PDQ hex of each of (N, 16, 16) DCT coefficient blocks (bits above their median).
    Reference bit k = 16·i + j is set when B[i][j] > median; the hex prints bit 255 first."""
    flat = coefficients.reshape(len(coefficients), -1)
    middle = flat.shape[1] // 2  # the median of an even count: the mean of the two middle values
    ordered = np.partition(flat, (middle - 1, middle), axis=1)
    bits = 2 * flat > (ordered[:, middle - 1] + ordered[:, middle])[:, None]
    return [bytes(row).hex() for row in np.packbits(bits[:, ::-1], axis=1)]
