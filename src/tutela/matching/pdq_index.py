"""PdqIndex: exact Hamming-radius search over 256-bit PDQ codes, incremental, with snapshots.

A multi-index (11 substrings, one CSR table each, probed by the pigeonring) answers the usual
radii; above the radius where probing costs more than reading every code, a popcount scan does.
Both are exact.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Any, Final

import numpy as np

from tutela.errors import InvalidInput
from tutela.matching import huge_pages
from tutela.matching.arguments import (
    CODE_BYTES,
    MAX_RADIUS,
    check_codes,
    check_ids,
    check_ids_codes,
    check_radius,
)
from tutela.matching.pdq_tables import (
    MAX_BUCKET_BITS,
    SUB_LEN,
    Segment,
    check_segment,
    scan_positions,
    search_segment,
)
from tutela.matching.snapshot import read_snapshot, write_snapshot

__all__ = ["CODE_BYTES", "MAX_CODES", "MAX_RADIUS", "PdqIndex"]

# Narrow entries (segments outside WIDE_MIN_CODES..WIDE_MAX_CODES) pack a position with the
# substring bits the bucket number leaves out into a uint32.
MAX_CODES: Final = 1 << (32 - (int(SUB_LEN.max()) - MAX_BUCKET_BITS))

# New codes are scanned linearly until this many wait (~15 us a query); then they get tables of
# their own (the delta, rebuilt at each flush), which are merged into the main tables once the
# delta passes 1/16 of the main (a linear merge, ~3 s at 10 M). A trickle of adds into a 10 M
# index so costs some tens of microseconds each, amortised; a batch of 100,000 well under 1 s.
_TAIL_LIMIT: Final = 8192
_DELTA_FRACTION: Final = 16

_MAGIC: Final = b"TUTPDQIX"
_VERSION: Final = 2  # 2: wide (uint64) table entries carry the next table's substring


class PdqIndex:
    """Exact search of PDQ codes (uint8 rows of 32 bytes) by Hamming radius, keyed by int64 ids.

    An id may carry several codes; a query reports each id once, at its nearest code, and
    `remove` drops all of an id's codes. Codes added are searchable at once and never make the
    whole index rebuild, except when its size crosses a bucket-count step (once per doubling)
    or `compact` runs because a quarter of its codes were removed. Queries may run from several
    threads (the kernels release the GIL); changes must not run alongside them, but may run on
    a `fork()` while queries read the original.
    """

    def __init__(self) -> None:
        self._words = np.zeros((0, 4), np.uint64)
        self._ids = np.zeros(0, np.int64)
        self._alive = np.zeros(0, np.uint8)
        self._size = 0  # positions used; rows past it are spare capacity
        self._live = 0
        self._main: Segment | None = None
        self._delta: Segment | None = None
        # Lazily built argsort of ids over positions [0, _perm_upto), for remove().
        self._perm: np.ndarray | None = None
        self._perm_upto = 0
        # The alive mask is another index's too (a fork's, until its first removal).
        self._alive_shared = False

    # -- building and changing ------------------------------------------------------------------

    @classmethod
    def build(cls, ids: np.ndarray, codes: np.ndarray, *, copy: bool = True) -> PdqIndex:
        """An index of these codes. With copy=False it keeps the caller's arrays (when they
        already have the index's layout) instead of copying them: at 100 M codes a copy is
        3.2 GB more at the peak; the caller must then never change them."""
        ids, words = check_ids_codes(ids, codes)
        index = cls()
        index._words = _copied(words) if copy else words
        index._ids = ids.copy() if copy else ids
        index._alive = np.ones(len(ids), np.uint8)
        index._size = index._live = len(ids)
        if len(ids) > MAX_CODES:
            raise InvalidInput(f"a PdqIndex holds at most {MAX_CODES} codes")
        if len(ids):
            index._main = Segment.build(index._words, index._alive, 0, index._size)
        return index

    def add(self, ids: np.ndarray, codes: np.ndarray) -> None:
        ids, words = check_ids_codes(ids, codes)
        n = len(ids)
        if n == 0:
            return
        if self._size + n > MAX_CODES:
            raise InvalidInput(f"a PdqIndex holds at most {MAX_CODES} codes")
        self._reserve(self._size + n)
        end = self._size + n
        self._words[self._size : end] = words
        self._ids[self._size : end] = ids
        self._alive[self._size : end] = 1
        self._size = end
        self._live += n
        if self._size - self._indexed_end() >= _TAIL_LIMIT:
            self._index_tail()

    def fork(self) -> PdqIndex:
        """An index equal to this one that may change while this one is queried, as long as this
        one no longer changes. It shares the code arrays: a fork appends past this index's
        size (which this index never reads) and copies the alive mask before its first removal;
        the tables are replaced, never changed, so they are shared as they are."""
        twin = PdqIndex.__new__(PdqIndex)
        twin.__dict__.update(self.__dict__)
        twin._alive_shared = True
        return twin

    def remove(self, ids: np.ndarray) -> int:
        """Forget every code of these ids; return how many codes were live. Unknown ids are fine."""
        targets = check_ids(ids)
        if len(targets) == 0 or self._size == 0:
            return 0
        positions = self._positions_of(np.unique(targets))
        positions = positions[self._alive[positions] != 0]
        if len(positions) and self._alive_shared:
            self._alive = self._alive.copy()
            self._alive_shared = False
        self._alive[positions] = 0
        self._live -= len(positions)
        return len(positions)

    def compact(self) -> None:
        """Drop removed codes from memory and rebuild the tables over the live ones."""
        live = self._alive[: self._size] != 0
        rebuilt = PdqIndex.build(self._ids[: self._size][live], self._words_as_codes()[live])
        self.__dict__.update(rebuilt.__dict__)

    def __len__(self) -> int:
        return self._live

    def memory_bytes(self) -> int:
        total = self._words.nbytes + self._ids.nbytes + self._alive.nbytes
        for segment in (self._main, self._delta):
            if segment is not None:
                total += segment.nbytes
        if self._perm is not None:
            total += self._perm.nbytes
        return int(total)

    # -- queries --------------------------------------------------------------------------------

    def query(self, codes: np.ndarray, radius: int) -> list[list[tuple[int, int]]]:
        """For each query row: [(id, distance)] of every id within `radius`, nearest first."""
        queries = check_codes(codes, "codes")
        radius = check_radius(radius)
        q_rows, ids, dists = self._search(queries, radius)
        if len(queries) == 1:
            return [list(zip(ids.tolist(), dists.tolist(), strict=True))]
        bounds = np.searchsorted(q_rows, np.arange(len(queries) + 1))
        id_list, dist_list = ids.tolist(), dists.tolist()
        return [
            list(zip(id_list[lo:hi], dist_list[lo:hi], strict=True))
            for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
        ]

    def query_flat(self, codes: np.ndarray, radius: int) -> tuple[np.ndarray, ...]:
        """(query row, id, distance) arrays of every match within `radius`, sorted by row, then
        distance, then id: the answer to a large batch with no Python object per query (most
        queries of a batch usually match nothing)."""
        return self._search(check_codes(codes, "codes"), check_radius(radius))

    def query_dihedral(self, variants: np.ndarray, radius: int) -> list[tuple[int, int, int]]:
        """One image's 8 dihedral variants: [(id, distance, variant)], each id once at its best."""
        queries = check_codes(variants, "variants")
        if len(queries) != 8:
            raise InvalidInput(
                f"variants must have 8 rows (one per dihedral variant), got {len(queries)}"
            )
        radius = check_radius(radius)
        q_rows, ids, dists = self._search(queries, radius)
        # Best distance per id, ties to the lowest variant, then nearest first as in query().
        order = np.lexsort((q_rows, dists, ids))
        ids, dists, q_rows = ids[order], dists[order], q_rows[order]
        first = np.ones(len(ids), bool)
        first[1:] = ids[1:] != ids[:-1]
        ids, dists, q_rows = ids[first], dists[first], q_rows[first]
        order = np.lexsort((ids, dists))
        return list(
            zip(ids[order].tolist(), dists[order].tolist(), q_rows[order].tolist(), strict=True)
        )

    def _search(self, queries: np.ndarray, radius: int) -> tuple[np.ndarray, ...]:
        """(query row, id, distance) of all matches, each (row, id) once, sorted row/dist/id."""
        parts = [
            search_segment(queries, self._words, self._alive, segment, radius)
            for segment in (self._main, self._delta)
            if segment is not None
        ]
        tail = self._indexed_end()
        if tail < self._size:
            parts.append(
                scan_positions(queries, self._words, self._alive, tail, self._size, radius)
            )
        if len(parts) == 1:
            q_rows, positions, dists = parts[0]
        else:
            q_rows, positions, dists = (
                np.concatenate([p[column] for p in parts]) if parts else np.zeros(0, np.int64)
                for column in range(3)
            )
        ids = self._ids[positions]
        if len(ids) <= 1:  # the usual answer: nothing to sort
            return q_rows, ids, dists
        order = np.lexsort((dists, ids, q_rows))
        q_rows, ids, dists = q_rows[order], ids[order], dists[order]
        # An id with several codes can match more than once: keep its nearest.
        first = np.ones(len(ids), bool)
        first[1:] = (ids[1:] != ids[:-1]) | (q_rows[1:] != q_rows[:-1])
        q_rows, ids, dists = q_rows[first], ids[first], dists[first]
        order = np.lexsort((ids, dists, q_rows))
        return q_rows[order], ids[order], dists[order]

    # -- snapshots ------------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        arrays: dict[str, np.ndarray] = {
            "codes": self._words_as_codes(),
            "ids": self._ids[: self._size],
            "alive": self._alive[: self._size],
        }
        meta: dict[str, Any] = {
            "size": self._size,
            "live": self._live,
            "sub_len": SUB_LEN.tolist(),
        }
        for name, segment in (("main", self._main), ("delta", self._delta)):
            if segment is None:
                meta[name] = None
                continue
            meta[name] = {
                "start": segment.start,
                "end": segment.end,
                "bucket_bits": segment.bucket_bits,
            }
            arrays[f"{name}_offsets"] = segment.offsets
            arrays[f"{name}_entries"] = segment.entries
        write_snapshot(Path(path), _MAGIC, _VERSION, meta, arrays)

    @classmethod
    def load(cls, path: Path, *, mmap: bool = True) -> PdqIndex:
        """Load a snapshot; with mmap (the default) pages are read on first use."""
        path = Path(path)
        meta, arrays = read_snapshot(path, _MAGIC, _VERSION, mmap=mmap)
        try:
            return cls._from_snapshot(meta, arrays)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"{path.name}: snapshot is inconsistent ({exc})") from None

    @classmethod
    def _from_snapshot(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> PdqIndex:
        size = operator.index(meta["size"])
        if meta["sub_len"] != SUB_LEN.tolist():
            raise ValueError("substring layout differs from this build's")
        codes, ids, alive = arrays["codes"], arrays["ids"], arrays["alive"]
        if codes.shape != (size, CODE_BYTES) or ids.shape != (size,) or alive.shape != (size,):
            raise ValueError("code, id and alive arrays disagree with the size")
        index = cls()
        index._words = codes.view(np.uint64)
        index._ids, index._alive, index._size = ids, alive, size
        index._live = int(np.count_nonzero(alive))
        if index._live != meta["live"]:
            raise ValueError("live count disagrees with the alive mask")
        start = 0
        for name in ("main", "delta"):
            seg_meta = meta[name]
            if seg_meta is None:
                continue
            segment = Segment(
                operator.index(seg_meta["start"]),
                operator.index(seg_meta["end"]),
                operator.index(seg_meta["bucket_bits"]),
                arrays[f"{name}_offsets"],
                arrays[f"{name}_entries"],
            )
            check_segment(segment, start, size)
            start = segment.end
            setattr(index, f"_{name}", segment)
        if index._delta is not None and index._main is None:
            raise ValueError("delta without main tables")
        return index

    # -- internals ------------------------------------------------------------------------------

    def _indexed_end(self) -> int:
        for segment in (self._delta, self._main):
            if segment is not None:
                return segment.end
        return 0

    def _words_as_codes(self) -> np.ndarray:
        return self._words[: self._size].view(np.uint8).reshape(self._size, CODE_BYTES)

    def _reserve(self, needed: int) -> None:
        if needed <= len(self._words):
            return
        capacity = max(needed, len(self._words) * 5 // 4, 1024)
        for name in ("_words", "_ids", "_alive"):
            old = getattr(self, name)
            new = huge_pages.empty((capacity, *old.shape[1:]), old.dtype)
            new[: self._size] = old[: self._size]
            new[self._size :] = 0
            setattr(self, name, new)
        self._alive_shared = False

    def _index_tail(self) -> None:
        """Give the scanned tail tables: rebuild the delta, or merge it into the main tables."""
        main_end = self._main.end if self._main is not None else 0
        if self._main is None or (self._size - main_end) * _DELTA_FRACTION > main_end:
            dead = self._size - self._live
            if dead * 4 > self._size:
                self.compact()
                return
            if self._main is None:
                self._main = Segment.build(self._words, self._alive, 0, self._size)
            else:
                self._main = self._main.extended(self._words, self._alive, self._size)
            self._delta = None
        else:
            self._delta = Segment.build(self._words, self._alive, main_end, self._size)

    def _positions_of(self, targets: np.ndarray) -> np.ndarray:
        """Every position (live or not) holding one of the sorted, unique target ids."""
        unsorted = self._size - self._perm_upto
        if self._perm is None or unsorted > max(_TAIL_LIMIT, self._perm_upto // 8):
            self._perm = np.argsort(self._ids[: self._size], kind="stable")
            self._perm_upto = self._size
        sorted_part = self._ids[: self._perm_upto]
        lo = np.searchsorted(sorted_part, targets, side="left", sorter=self._perm)
        hi = np.searchsorted(sorted_part, targets, side="right", sorter=self._perm)
        counts = hi - lo
        # Concatenate the ranges perm[lo:hi] without a Python loop.
        starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
        found = self._perm[starts + np.arange(int(counts.sum()))]
        recent = self._ids[self._perm_upto : self._size]
        extra = np.flatnonzero(np.isin(recent, targets)) + self._perm_upto
        return np.concatenate([found, extra]).astype(np.int64)


def _copied(words: np.ndarray) -> np.ndarray:
    """A copy of the code words, on huge pages when large (queries read them at random)."""
    out = huge_pages.empty(words.shape, words.dtype)
    out[...] = words
    return out
