"""The substring tables of PdqIndex: layout, per-radius probe plans, and searching one segment.

A segment is a CSR table per substring over a range of code positions; a plan says how far to
probe each table for a radius and how the radius is shared round the ring of tables
(pigeonring, see pdq_kernels.probe_tables), or that scanning every code is cheaper.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import numpy as np

from tutela.matching import huge_pages

if TYPE_CHECKING:
    from types import ModuleType

# 256 bits cut into 11 substrings (3 of 24 bits, 8 of 23): at radius 31 pigeonhole needs each
# table probed at radius 2 (one at 1), ~280 neighbour keys per table, ~1 code per key at 10 M.
SUB_LEN: Final = np.array([24, 24, 24] + [23] * 8, np.int64)
SUB_START: Final = np.concatenate([[0], np.cumsum(SUB_LEN)[:-1]]).astype(np.int64)
TABLES: Final = len(SUB_LEN)
CODE_WORDS: Final = 4  # uint64 words per code

# Narrow entries pack a position with the substring bits the bucket number leaves out into a
# uint32: more bucket bits leave more room for positions. Wide entries (uint64) also carry the
# next table's substring, CHECK_BITS wide, which lets a probe drop nearly every candidate before
# reading its code, for 1.57x the index's memory. Measured, batched queries per CPU-second wide
# against narrow: 1 M codes 0.98x (the tables sit in cache: reading candidates costs little),
# 2 M 1.11x, 4 M 1.19x, 10 M 1.46x; at 100 M wide entries would take 8.8 GB, over that scale's
# budget. So segments of WIDE_MIN_CODES to WIDE_MAX_CODES positions are wide.
MAX_BUCKET_BITS: Final = 22
MAX_WIDE_BUCKET_BITS: Final = 24
MIN_BUCKET_BITS: Final = 4
CHECK_BITS: Final = 24
WIDE_MIN_CODES: Final = 1 << 21
WIDE_MAX_CODES: Final = 1 << 25

# Cost model (ns) for choosing probe or scan per segment, fitted on this project's 2-core test
# machines. Random reads dominate: a probed bucket costs ~45 ns when the tables live in DRAM but
# ~12 ns when they fit in cache, so the random-read costs scale with the tables' size.
_NS_PER_BUCKET: Final = 45.0
_NS_PER_CACHED_BUCKET: Final = 12.0
_NS_PER_ENTRY: Final = 1.0
_NS_PER_CANDIDATE: Final = 30.0
_NS_PER_CACHED_CANDIDATE: Final = 5.0
_NS_PER_SCANNED_CODE: Final = 2.0
_CACHE_BYTES: Final = 32 << 20

# Beyond this per-table radius a neighbourhood has millions of keys and a scan always wins.
_MAX_PROBE_RADIUS: Final = 8


def _kernels() -> ModuleType:
    """The numba kernels, imported (and their cached machine code loaded) on first use: numba
    and LLVM cost ~0.3 CPU-s at import, which a process that never searches codes need not pay."""
    from tutela.matching import pdq_kernels

    return pdq_kernels


@dataclass(frozen=True)
class Plan:
    """How one segment answers one radius through its tables."""

    radii: np.ndarray  # per table: probe radius, -1 when skipped
    units: np.ndarray  # per table: its share of the radius, in TABLES-ths of a bit


@dataclass
class Segment:
    """CSR tables over positions [start, end) of the index's code array."""

    start: int
    end: int
    bucket_bits: int
    offsets: np.ndarray  # (tables, 2**bucket_bits + 1) uint32
    # (tables, live codes): uint32 position - start << tag bits | tag, or (wide) uint64
    # (position - start << CHECK_BITS | next table's substring) << tag bits | tag
    entries: np.ndarray
    plans: dict[int, Plan | None] = field(default_factory=dict)

    @classmethod
    def build(cls, words: np.ndarray, alive: np.ndarray, start: int, end: int) -> Segment:
        wide = is_wide(end - start)
        bits = bucket_bits_for(end - start, wide)
        offsets, entries = _table_arrays(bits, int(np.count_nonzero(alive[start:end])), wide)
        _kernels().build_tables(
            words,
            alive,
            start,
            end,
            SUB_START,
            SUB_LEN,
            bits,
            check_bits(entries),
            offsets,
            entries,
        )
        return cls(start, end, bits, offsets, entries)

    def extended(self, words: np.ndarray, alive: np.ndarray, end: int) -> Segment:
        """These tables grown to cover positions up to `end`, merged when the layout fits."""
        wide = is_wide(end - self.start)
        bits = bucket_bits_for(end - self.start, wide)
        if bits != self.bucket_bits or wide != self.wide:
            return Segment.build(words, alive, self.start, end)
        added = int(np.count_nonzero(alive[self.end : end]))
        offsets, entries = _table_arrays(bits, self.entries.shape[1] + added, wide)
        _kernels().extend_tables(
            self.offsets,
            self.entries,
            words,
            alive,
            self.start,
            self.end,
            end,
            SUB_START,
            SUB_LEN,
            bits,
            check_bits(entries),
            offsets,
            entries,
        )
        return Segment(self.start, end, bits, offsets, entries)

    @property
    def wide(self) -> bool:
        return bool(self.entries.dtype == np.uint64)

    @property
    def nbytes(self) -> int:
        return int(self.offsets.nbytes + self.entries.nbytes)

    def plan(self, radius: int) -> Plan | None:
        """How to probe the tables for `radius`, or None when a scan is cheaper."""
        if radius not in self.plans:
            radii = plan_radii(self.entries.shape[1], self.bucket_bits, radius)
            self.plans[radius] = None if radii is None else Plan(radii, ring_units(radii, radius))
        return self.plans[radius]


def is_wide(n: int) -> bool:
    """Whether a segment over n positions gets wide entries."""
    return WIDE_MIN_CODES <= n <= WIDE_MAX_CODES


def check_bits(entries: np.ndarray) -> int:
    """Bits of the next table's substring each entry carries: CHECK_BITS when wide, else 0."""
    return CHECK_BITS if entries.dtype == np.uint64 else 0


def _table_arrays(bucket_bits: int, entries: int, wide: bool) -> tuple[np.ndarray, np.ndarray]:
    """Uninitialised offsets and entries for TABLES tables (the kernels write every element),
    on huge pages when large: probes read both at random."""
    offsets = huge_pages.empty((TABLES, (1 << bucket_bits) + 1), np.uint32)
    return offsets, huge_pages.empty((TABLES, entries), np.uint64 if wide else np.uint32)


@functools.cache
def masks_by_weight(bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Every `bits`-wide mask of popcount <= _MAX_PROBE_RADIUS (plans never probe a table
    further), by popcount, and how many masks have popcount <= k, for each k.

    Built weight by weight (each mask of weight w gains one bit above its highest): listing all
    2**bits masks and sorting them took 0.6 s at 22 bits, paid by a node's first lookup."""
    level = np.zeros(1, np.int64)
    highest = np.full(1, -1, np.int64)
    levels = [level]
    for _ in range(min(bits, _MAX_PROBE_RADIUS)):
        more = bits - 1 - highest  # bits above each mask's highest
        firsts = np.repeat(np.cumsum(more) - more, more)
        highest = np.repeat(highest + 1, more) + np.arange(int(more.sum())) - firsts
        level = np.repeat(level, more) | (np.int64(1) << highest)
        levels.append(level)
    within = np.cumsum([math.comb(bits, k) for k in range(bits + 1)]).astype(np.int64)
    return np.concatenate(levels), within


def bucket_bits_for(n: int, wide: bool) -> int:
    """About 4 narrow or 2 wide entries per bucket (~one cache line of entries per probed key).
    Measured at 10 M: narrow, 2**21 buckets beat 2**20 by ~10% and 2**19 by ~40%; wide, 2**22
    beat 2**21 by 1.10x and equalled 2**23."""
    if wide:
        return max(MIN_BUCKET_BITS, min(MAX_WIDE_BUCKET_BITS, round(math.log2(max(n, 1))) - 1))
    return max(MIN_BUCKET_BITS, min(MAX_BUCKET_BITS, round(math.log2(max(n, 1))) - 2))


def ring_units(radii: np.ndarray, radius: int) -> np.ndarray:
    """Each table's share of `radius`, in TABLES-ths of a bit, for the pigeonring: floor(share)
    is the table's probe radius (-1 for a skipped table, whose share is negative), and the shares
    sum to exactly TABLES * radius, so that runs of tables get the tightest shares those radii
    allow. The plan's pigeonhole, sum(radii + 1) > radius, makes that sum reachable."""
    m = len(radii)
    units = np.where(radii >= 0, m * radii + m - 1, -1).astype(np.int64)
    excess = int(units.sum()) - m * radius
    if excess < 0:
        raise ValueError(f"probe radii {radii.tolist()} cannot cover radius {radius}")
    # Lower shares within their floors, the last tables first (the first tables' extra radius
    # keeps the slack where plan_radii put it), until they sum to m * radius.
    for t in reversed(range(m)):
        room = int(units[t] - m * radii[t]) if radii[t] >= 0 else int(units[t] + m)
        cut = min(room, excess)
        units[t] -= cut
        excess -= cut
    return units


def plan_radii(n: int, bucket_bits: int, radius: int) -> np.ndarray | None:
    """Spread radius+1 over the tables as evenly as possible (cheapest, as costs are convex)."""
    budget = radius + 1
    radii = np.full(TABLES, -1, np.int64)
    if budget <= TABLES:
        radii[:budget] = 0
    else:
        base, extra = divmod(budget, TABLES)
        radii[:] = base - 1
        radii[:extra] = base  # the 24-bit tables first: fewer codes per neighbour key
    table_bytes = n * (CODE_WORDS * 8 + TABLES * 4) + (TABLES * 4 << bucket_bits)
    missed = min(1.0, table_bytes / _CACHE_BYTES)
    per_bucket = _NS_PER_CACHED_BUCKET + missed * (_NS_PER_BUCKET - _NS_PER_CACHED_BUCKET)
    per_candidate = _NS_PER_CACHED_CANDIDATE + missed * (
        _NS_PER_CANDIDATE - _NS_PER_CACHED_CANDIDATE
    )
    cost = 0.0
    for t in range(TABLES):
        r = int(radii[t])
        if r < 0:
            continue
        keys = sum(math.comb(bucket_bits, k) for k in range(min(r, bucket_bits) + 1))
        near = sum(math.comb(int(SUB_LEN[t]), k) for k in range(r + 1))
        cost += keys * (per_bucket + _NS_PER_ENTRY * n / 2**bucket_bits)
        cost += per_candidate * n * near / 2 ** int(SUB_LEN[t])
    if int(radii.max()) > _MAX_PROBE_RADIUS:
        return None
    return radii if cost < n * _NS_PER_SCANNED_CODE else None


def search_segment(
    queries: np.ndarray, words: np.ndarray, alive: np.ndarray, segment: Segment, radius: int
) -> tuple[np.ndarray, ...]:
    """(query row, position, distance) of every live code of the segment within `radius`."""
    plan = segment.plan(radius)
    if plan is None:
        return scan_positions(queries, words, alive, segment.start, segment.end, radius)
    masks, masks_within = masks_by_weight(segment.bucket_bits)

    def run(first: int, *out: np.ndarray) -> tuple[int, int]:
        return _kernels().probe_tables(  # type: ignore[no-any-return]
            queries,
            words,
            alive,
            segment.start,
            segment.offsets,
            segment.entries,
            segment.bucket_bits,
            check_bits(segment.entries),
            masks,
            masks_within,
            SUB_START,
            SUB_LEN,
            plan.radii,
            plan.units,
            radius,
            first,
            *out,
        )

    return _collect(run, 0, len(queries), len(queries))


def scan_positions(
    queries: np.ndarray, words: np.ndarray, alive: np.ndarray, start: int, end: int, radius: int
) -> tuple[np.ndarray, ...]:
    """(query row, position, distance) of every live code in [start, end) within `radius`."""

    def run(first: int, *out: np.ndarray) -> tuple[int, int]:
        return _kernels().scan_range(  # type: ignore[no-any-return]
            queries, words, alive, first, end, radius, *out
        )

    return _collect(run, start, end, len(queries))


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


def check_segment(segment: Segment, start: int, size: int) -> None:
    """Raise ValueError unless the segment's tables are safe to probe (the kernels do not
    bounds-check) and lie in order within `size` positions."""
    bits = segment.bucket_bits
    offsets, entries = segment.offsets, segment.entries
    if offsets.dtype != np.uint32 or entries.dtype not in (np.uint32, np.uint64):
        raise ValueError("table arrays have the wrong dtype")
    if not MIN_BUCKET_BITS <= bits <= (MAX_WIDE_BUCKET_BITS if segment.wide else MAX_BUCKET_BITS):
        raise ValueError("bucket bits out of range")
    if segment.start != start or not start <= segment.end <= size:
        raise ValueError("segment range out of order")
    if offsets.shape != (TABLES, (1 << bits) + 1) or entries.ndim != 2:
        raise ValueError("table arrays have the wrong shape")
    if entries.shape[0] != TABLES or entries.shape[1] > segment.end - segment.start:
        raise ValueError("table arrays have the wrong shape")
    # The kernels do not bounds-check, so a damaged table must be caught here, not in a probe.
    if np.any(offsets[:, 0] != 0) or np.any(offsets[:, -1] != entries.shape[1]):
        raise ValueError("table offsets do not span the entries")
    for t in range(TABLES):
        if np.any(offsets[t, 1:] < offsets[t, :-1]):
            raise ValueError("table offsets are not sorted")
        row = entries[t]
        shift = int(SUB_LEN[t]) - bits + check_bits(entries)
        if len(row) and int(row.max()) >> shift >= segment.end - segment.start:
            raise ValueError("a table entry points outside its segment")
