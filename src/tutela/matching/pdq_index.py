"""PdqIndex: exact Hamming-radius search over 256-bit PDQ codes, incremental, with snapshots.

A multi-index (11 substrings, one CSR table each) answers the usual radii; above the radius where
probing costs more than reading every code, a popcount scan does. Both are exact.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from tutela.errors import InvalidInput
from tutela.matching import pdq_kernels
from tutela.matching.snapshot import read_snapshot, write_snapshot

CODE_BYTES: Final = 32
MAX_RADIUS: Final = 255

# 256 bits cut into 11 substrings (3 of 24 bits, 8 of 23): at radius 31 pigeonhole needs each
# table probed at radius 2 (one at 1), ~280 neighbour keys per table, ~1 code per key at 10 M.
_SUB_LEN: Final = np.array([24, 24, 24] + [23] * 8, np.int64)
_SUB_START: Final = np.concatenate([[0], np.cumsum(_SUB_LEN)[:-1]]).astype(np.int64)
_TABLES: Final = len(_SUB_LEN)

# Positions are packed with the substring bits the bucket number leaves out into uint32 entries,
# so a table holds at most 2**(32 - (24 - _MAX_BUCKET_BITS)) positions.
_MAX_BUCKET_BITS: Final = 22
_MIN_BUCKET_BITS: Final = 4
MAX_CODES: Final = 1 << (32 - (24 - _MAX_BUCKET_BITS))

# New codes are scanned linearly until this many wait (~15 us a query); then they get tables of
# their own (the delta, rebuilt at each flush), which fold into the main tables once the delta
# passes 1/16 of the main. At 10 M a trickle of adds then costs ~30 us each, amortised.
_TAIL_LIMIT: Final = 8192
_DELTA_FRACTION: Final = 16

# Cost model (ns) for choosing probe or scan per segment; random reads dominate (~29 ns each).
_NS_PER_BUCKET: Final = 45.0
_NS_PER_ENTRY: Final = 1.0
_NS_PER_CANDIDATE: Final = 30.0
_NS_PER_SCANNED_CODE: Final = 2.0

# Beyond this per-table radius a neighbourhood has millions of keys and a scan always wins.
_MAX_PROBE_RADIUS: Final = 8

_MAGIC: Final = b"TUTPDQIX"
_VERSION: Final = 1


@dataclass
class _Segment:
    """CSR tables over positions [start, end) of the index's code array."""

    start: int
    end: int
    bucket_bits: int
    offsets: np.ndarray  # (tables, 2**bucket_bits + 1) uint32
    entries: np.ndarray  # (tables, live codes) uint32: position - start << tag bits | tag
    plans: dict[int, np.ndarray | None] = field(default_factory=dict)

    @classmethod
    def build(cls, words: np.ndarray, alive: np.ndarray, start: int, end: int) -> _Segment:
        bits = _bucket_bits(end - start)
        offsets, entries = pdq_kernels.build_tables(
            words, alive, start, end, _SUB_START, _SUB_LEN, bits
        )
        return cls(start, end, bits, offsets, entries)

    @property
    def nbytes(self) -> int:
        return int(self.offsets.nbytes + self.entries.nbytes)

    def plan(self, radius: int) -> np.ndarray | None:
        """Per-table probe radii for `radius`, or None when a scan is cheaper."""
        if radius not in self.plans:
            self.plans[radius] = _plan(self.entries.shape[1], self.bucket_bits, radius)
        return self.plans[radius]


@functools.cache
def _masks_by_weight(bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Every `bits`-wide mask sorted by popcount, and how many have popcount <= k, for each k."""
    masks = np.arange(1 << bits, dtype=np.int64)
    weights = np.unpackbits(masks.astype("<u4").view(np.uint8).reshape(-1, 4), axis=1).sum(1)
    order = np.argsort(weights, kind="stable")
    within = np.cumsum(np.bincount(weights, minlength=bits + 1)).astype(np.int64)
    # Plans never probe a table beyond _MAX_PROBE_RADIUS, so heavier masks need not be kept.
    keep = int(within[min(bits, _MAX_PROBE_RADIUS)])
    return masks[order][:keep].copy(), within


def _bucket_bits(n: int) -> int:
    # About 4 codes per bucket (one cache line of entries per probed key); measured at 10 M,
    # 2**21 buckets beat 2**20 by ~10% and 2**19 by ~40%, and the offsets stay under 100 MB.
    wanted = round(math.log2(max(n, 1))) - 2
    return max(_MIN_BUCKET_BITS, min(_MAX_BUCKET_BITS, wanted))


def _plan(n: int, bucket_bits: int, radius: int) -> np.ndarray | None:
    """Spread radius+1 over the tables as evenly as possible (cheapest, as costs are convex)."""
    budget = radius + 1
    radii = np.full(_TABLES, -1, np.int64)
    if budget <= _TABLES:
        radii[:budget] = 0
    else:
        base, extra = divmod(budget, _TABLES)
        radii[:] = base - 1
        radii[:extra] = base  # the 24-bit tables first: fewer codes per neighbour key
    cost = 0.0
    for t in range(_TABLES):
        r = int(radii[t])
        if r < 0:
            continue
        keys = sum(math.comb(bucket_bits, k) for k in range(min(r, bucket_bits) + 1))
        near = sum(math.comb(int(_SUB_LEN[t]), k) for k in range(r + 1))
        cost += keys * (_NS_PER_BUCKET + _NS_PER_ENTRY * n / 2**bucket_bits)
        cost += _NS_PER_CANDIDATE * n * near / 2 ** int(_SUB_LEN[t])
    if int(radii.max()) > _MAX_PROBE_RADIUS:
        return None
    return radii if cost < n * _NS_PER_SCANNED_CODE else None


class PdqIndex:
    """Exact search of PDQ codes (uint8 rows of 32 bytes) by Hamming radius, keyed by int64 ids.

    An id may carry several codes; a query reports each id once, at its nearest code, and
    `remove` drops all of an id's codes. Codes added are searchable at once; no call rebuilds the
    whole index except the occasional fold of the delta, amortised over many adds. Queries may
    run from several threads (kernels release the GIL); changes must not run alongside them.
    """

    def __init__(self) -> None:
        self._words = np.zeros((0, 4), np.uint64)
        self._ids = np.zeros(0, np.int64)
        self._alive = np.zeros(0, np.uint8)
        self._size = 0  # positions used; rows past it are spare capacity
        self._live = 0
        self._main: _Segment | None = None
        self._delta: _Segment | None = None
        # Lazily built argsort of ids over positions [0, _perm_upto), for remove().
        self._perm: np.ndarray | None = None
        self._perm_upto = 0

    # -- building and changing ------------------------------------------------------------------

    @classmethod
    def build(cls, ids: np.ndarray, codes: np.ndarray) -> PdqIndex:
        ids, words = _check_ids_codes(ids, codes)
        index = cls()
        index._words = words.copy()
        index._ids = ids.copy()
        index._alive = np.ones(len(ids), np.uint8)
        index._size = index._live = len(ids)
        if len(ids) > MAX_CODES:
            raise InvalidInput(f"a PdqIndex holds at most {MAX_CODES} codes")
        if len(ids):
            index._main = _Segment.build(index._words, index._alive, 0, index._size)
        return index

    def add(self, ids: np.ndarray, codes: np.ndarray) -> None:
        ids, words = _check_ids_codes(ids, codes)
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

    def remove(self, ids: np.ndarray) -> int:
        """Forget every code of these ids; return how many codes were live. Unknown ids are fine."""
        targets = _check_ids(ids)
        if len(targets) == 0 or self._size == 0:
            return 0
        positions = self._positions_of(np.unique(targets))
        positions = positions[self._alive[positions] != 0]
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
        queries = _check_codes(codes, "codes")
        radius = _check_radius(radius)
        q_rows, ids, dists = self._search(queries, radius)
        if len(queries) == 1:
            return [list(zip(ids.tolist(), dists.tolist(), strict=True))]
        bounds = np.searchsorted(q_rows, np.arange(len(queries) + 1))
        id_list, dist_list = ids.tolist(), dists.tolist()
        return [
            list(zip(id_list[lo:hi], dist_list[lo:hi], strict=True))
            for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
        ]

    def query_dihedral(self, variants: np.ndarray, radius: int) -> list[tuple[int, int, int]]:
        """One image's 8 dihedral variants: [(id, distance, variant)], each id once at its best."""
        queries = _check_codes(variants, "variants")
        if len(queries) != 8:
            raise InvalidInput(
                f"variants must have 8 rows (one per dihedral variant), got {len(queries)}"
            )
        radius = _check_radius(radius)
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
        parts = []
        for segment in (self._main, self._delta):
            if segment is None:
                continue
            radii = segment.plan(radius)
            if radii is None:
                parts.append(self._scan(queries, segment.start, segment.end, radius))
            else:
                parts.append(self._probe(queries, segment, radii, radius))
        tail = self._indexed_end()
        if tail < self._size:
            parts.append(self._scan(queries, tail, self._size, radius))
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

    def _probe(
        self, queries: np.ndarray, segment: _Segment, radii: np.ndarray, radius: int
    ) -> tuple[np.ndarray, ...]:
        masks, masks_within = _masks_by_weight(segment.bucket_bits)

        def run(first: int, *out: np.ndarray) -> tuple[int, int]:
            return pdq_kernels.probe_tables(  # type: ignore[no-any-return]
                queries,
                self._words,
                self._alive,
                segment.start,
                segment.offsets,
                segment.entries,
                segment.bucket_bits,
                masks,
                masks_within,
                _SUB_START,
                _SUB_LEN,
                radii,
                radius,
                first,
                *out,
            )

        return _collect(run, 0, len(queries), len(queries))

    def _scan(
        self, queries: np.ndarray, start: int, end: int, radius: int
    ) -> tuple[np.ndarray, ...]:
        def run(first: int, *out: np.ndarray) -> tuple[int, int]:
            return pdq_kernels.scan_range(  # type: ignore[no-any-return]
                queries, self._words, self._alive, first, end, radius, *out
            )

        return _collect(run, start, end, len(queries))

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
            "sub_len": _SUB_LEN.tolist(),
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
        if meta["sub_len"] != _SUB_LEN.tolist():
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
            segment = _Segment(
                operator.index(seg_meta["start"]),
                operator.index(seg_meta["end"]),
                operator.index(seg_meta["bucket_bits"]),
                arrays[f"{name}_offsets"],
                arrays[f"{name}_entries"],
            )
            _check_segment(segment, start, size)
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
            new = np.zeros((capacity, *old.shape[1:]), old.dtype)
            new[: self._size] = old[: self._size]
            setattr(self, name, new)

    def _index_tail(self) -> None:
        """Give the scanned tail tables: rebuild the delta, or fold it into the main tables."""
        main_end = self._main.end if self._main is not None else 0
        if self._main is None or (self._size - main_end) * _DELTA_FRACTION > main_end:
            dead = self._size - self._live
            if dead * 4 > self._size:
                self.compact()
                return
            self._main = _Segment.build(self._words, self._alive, 0, self._size)
            self._delta = None
        else:
            self._delta = _Segment.build(self._words, self._alive, main_end, self._size)

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


def _collect(
    run: Callable[..., tuple[int, int]], first: int, done: int, n_queries: int
) -> tuple[np.ndarray, ...]:
    """Drive a kernel that fills (query row, position, distance) arrays and stops when full.

    The kernel returns (matches written, where to resume); each resume gets arrays twice as big.
    """
    capacity = max(1024, 4 * n_queries)
    chunks: list[tuple[np.ndarray, ...]] = []
    while True:
        out = tuple(np.empty(capacity, np.int64) for _ in range(3))
        found, first = run(first, *out)
        chunks.append(tuple(array[:found] for array in out))
        if first >= done:
            break
        capacity *= 2
    if len(chunks) == 1:
        return chunks[0]
    return tuple(np.concatenate(column) for column in zip(*chunks, strict=True))


def _check_segment(segment: _Segment, start: int, size: int) -> None:
    bits = segment.bucket_bits
    if not _MIN_BUCKET_BITS <= bits <= _MAX_BUCKET_BITS:
        raise ValueError("bucket bits out of range")
    if segment.start != start or not start <= segment.end <= size:
        raise ValueError("segment range out of order")
    offsets, entries = segment.offsets, segment.entries
    if offsets.dtype != np.uint32 or entries.dtype != np.uint32:
        raise ValueError("table arrays have the wrong dtype")
    if offsets.shape != (_TABLES, (1 << bits) + 1) or entries.ndim != 2:
        raise ValueError("table arrays have the wrong shape")
    if entries.shape[0] != _TABLES or entries.shape[1] > segment.end - segment.start:
        raise ValueError("table arrays have the wrong shape")
    # The kernels do not bounds-check, so a damaged table must be caught here, not in a probe.
    if np.any(offsets[:, 0] != 0) or np.any(offsets[:, -1] != entries.shape[1]):
        raise ValueError("table offsets do not span the entries")
    for t in range(_TABLES):
        if np.any(offsets[t, 1:] < offsets[t, :-1]):
            raise ValueError("table offsets are not sorted")
        row = entries[t]
        if len(row) and int(row.max()) >> int(_SUB_LEN[t] - bits) >= segment.end - segment.start:
            raise ValueError("a table entry points outside its segment")


def _check_codes(codes: Any, what: str) -> np.ndarray:
    """Validate a uint8 (n, 32) array; return it as contiguous (n, 4) uint64 words."""
    if not isinstance(codes, np.ndarray) or codes.dtype != np.uint8:
        raise InvalidInput(f"{what} must be a numpy uint8 array of shape (n, {CODE_BYTES})")
    if codes.ndim != 2 or codes.shape[1] != CODE_BYTES:
        raise InvalidInput(f"{what} must have shape (n, {CODE_BYTES}), got {codes.shape}")
    return np.ascontiguousarray(codes).view(np.uint64)


def _check_ids(ids: Any) -> np.ndarray:
    array = np.asarray(ids)
    if array.ndim != 1 or not (array.dtype.kind in "iu" or array.size == 0):
        raise InvalidInput("ids must be a one-dimensional array of integers")
    if array.dtype == np.uint64 and array.size and int(array.max()) > np.iinfo(np.int64).max:
        raise InvalidInput("ids must fit in int64")
    return array.astype(np.int64, copy=False)


def _check_ids_codes(ids: Any, codes: Any) -> tuple[np.ndarray, np.ndarray]:
    id_array = _check_ids(ids)
    words = _check_codes(codes, "codes")
    if len(id_array) != len(words):
        raise InvalidInput(f"got {len(id_array)} ids for {len(words)} codes")
    return id_array, words


def _check_radius(radius: Any) -> int:
    if isinstance(radius, bool) or not isinstance(radius, int | np.integer):
        raise InvalidInput("radius must be an integer")
    if not 0 <= radius <= MAX_RADIUS:
        raise InvalidInput(f"radius must be between 0 and {MAX_RADIUS}, got {radius}")
    return int(radius)
