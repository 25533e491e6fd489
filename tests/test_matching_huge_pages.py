"""huge_pages.empty: arrays like np.empty, large ones aligned to 2 MiB for huge pages; the index
built on them answers as before."""

from __future__ import annotations

import numpy as np

from tutela.matching import PdqIndex, huge_pages


def test_small_arrays_are_plain() -> None:
    array = huge_pages.empty((10, 4), np.uint64)
    assert array.shape == (10, 4) and array.dtype == np.uint64


def test_large_arrays_are_aligned_and_writable() -> None:
    array = huge_pages.empty((17 << 20) // 4 + 3, np.uint32)
    assert array.shape == ((17 << 20) // 4 + 3,) and array.dtype == np.uint32
    assert array.flags.c_contiguous and array.flags.writeable
    if huge_pages._madvise is not None:
        assert array.ctypes.data % (2 << 20) == 0
    array[:] = 7
    assert int(array[-1]) == 7 and int(array.sum(dtype=np.int64)) == 7 * len(array)


def test_index_on_huge_pages_answers_exactly() -> None:
    # 600,000 codes: the words (19 MB) and the tables' entries (26 MB) are large enough.
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 256, (600_000, 32), dtype=np.uint8)
    queries = codes[:50].copy()
    queries[:, 0] ^= 0b111  # 3 bits away
    index = PdqIndex.build(np.arange(len(codes)), codes)
    assert index._words.ctypes.data % (2 << 20) == 0 or huge_pages._madvise is None
    found = index.query(queries, 31)
    assert [hits[0] for hits in found] == [(i, 3) for i in range(50)]
    # copy=False keeps the caller's arrays: same answers.
    kept = PdqIndex.build(np.arange(len(codes)), codes, copy=False)
    assert np.shares_memory(kept._words, codes)
    assert kept.query(queries, 31) == found
