"""Checks on the arguments of the matching indexes: shapes, dtypes and ranges, as InvalidInput."""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from tutela.errors import InvalidInput

CODE_BYTES: Final = 32
MAX_RADIUS: Final = 255


def check_codes(codes: Any, what: str) -> np.ndarray:
    """Validate a uint8 (n, 32) array; return it as contiguous (n, 4) uint64 words."""
    if not isinstance(codes, np.ndarray) or codes.dtype != np.uint8:
        raise InvalidInput(f"{what} must be a numpy uint8 array of shape (n, {CODE_BYTES})")
    if codes.ndim != 2 or codes.shape[1] != CODE_BYTES:
        raise InvalidInput(f"{what} must have shape (n, {CODE_BYTES}), got {codes.shape}")
    return np.ascontiguousarray(codes).view(np.uint64)


def check_ids(ids: Any) -> np.ndarray:
    array = np.asarray(ids)
    if array.ndim != 1 or not (array.dtype.kind in "iu" or array.size == 0):
        raise InvalidInput("ids must be a one-dimensional array of integers")
    if array.dtype == np.uint64 and array.size and int(array.max()) > np.iinfo(np.int64).max:
        raise InvalidInput("ids must fit in int64")
    return array.astype(np.int64, copy=False)


def check_ids_codes(ids: Any, codes: Any) -> tuple[np.ndarray, np.ndarray]:
    id_array = check_ids(ids)
    words = check_codes(codes, "codes")
    if len(id_array) != len(words):
        raise InvalidInput(f"got {len(id_array)} ids for {len(words)} codes")
    return id_array, words


def check_radius(radius: Any) -> int:
    if isinstance(radius, bool) or not isinstance(radius, int | np.integer):
        raise InvalidInput("radius must be an integer")
    if not 0 <= radius <= MAX_RADIUS:
        raise InvalidInput(f"radius must be between 0 and {MAX_RADIUS}, got {radius}")
    return int(radius)
