"""Numba kernels behind PdqIndex: substring keys, CSR table builds, multi-index probes and scans.

Codes are rows of four little-endian uint64 words; positions are rows of the index's code array.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import extending
from numba.core import cgutils as numba_cgutils

# numba's decorators and LLVM helpers are treated as untyped: mypy checks the Python around the
# kernels, numba checks their bodies when it compiles them.
njit: Any = numba.njit
intrinsic: Any = extending.intrinsic
cgutils: Any = numba_cgutils
types: Any = numba.types
ir: Any = cgutils.ir  # llvmlite's IR builder, as numba itself imports it

# How many items ahead each pass of probe_tables prefetches: bucket bounds, buckets' entries,
# candidates' codes. A miss to memory takes ~180 ns here and ~15 can be outstanding; measured at
# 10 M codes, 16/32/48 gave 1.13x the queries per CPU-second of 16 for all three, and 8 or 64 for
# the first were slower.
_AHEAD_BOUNDS = 16
_AHEAD_ENTRIES = 32
_AHEAD_CODES = 48

# Queries probed together, table by table (see probe_tables): with ~200 probes each, a block
# touches most cache lines of a table's offsets, so they are read from DRAM once per block.
_BLOCK = 1024

# build_tables sorts each span of buckets by this many low bucket bits while the span is in cache.
_FINE_BITS = 14


@intrinsic  # type: ignore[untyped-decorator]
def _ctpop(typingctx: Any, x: Any) -> Any:
    """LLVM's ctpop: one POPCNT instruction on any CPU that has it (numba has no builtin)."""
    if not isinstance(x, types.Integer):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.ctpop(args[0])

    return x(x), codegen


@intrinsic  # type: ignore[untyped-decorator]
def _prefetch(typingctx: Any, array: Any, row: Any, col: Any) -> Any:
    """Hint the CPU to fetch array[row, col] into cache (llvm.prefetch; a no-op if unsupported)."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        array_type = signature.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(
            context, builder, array_type, view, [args[1], args[2]], wraparound=False
        )
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]),
            "llvm.prefetch.p0i8",
        )
        # read, keep in all cache levels, data cache
        builder.call(function, [builder.bitcast(pointer, byte_pointer), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(array, row, col), codegen


@njit(cache=True, nogil=True, inline="always")  # type: ignore[untyped-decorator]
def _substring(words: Any, pos: int, start: int, length: int) -> Any:
    """Bits [start, start+length) of code `pos` as an int (length <= 32)."""
    # Indexing words[pos, i] directly: taking a row view per code costs ~10x in the hot loops.
    word = start >> 6
    shift = start & 63
    value = words[pos, word] >> np.uint64(shift)
    if shift + length > 64:
        value |= words[pos, word + 1] << np.uint64(64 - shift)
    return np.int64(value & np.uint64((1 << length) - 1))


@njit(cache=True, nogil=True, inline="always")  # type: ignore[untyped-decorator]
def _distance(words: Any, pos: int, q0: Any, q1: Any, q2: Any, q3: Any) -> Any:
    d = (
        _ctpop(words[pos, 0] ^ q0)
        + _ctpop(words[pos, 1] ^ q1)
        + _ctpop(words[pos, 2] ^ q2)
        + _ctpop(words[pos, 3] ^ q3)
    )
    return np.int64(d)


@njit(cache=True, nogil=True, inline="always")  # type: ignore[untyped-decorator]
def _entry(
    words: Any,
    pos: int,
    start: int,
    key: int,
    tag_bits: int,
    check_bits: int,
    check_start: int,
    check_len: int,
) -> Any:
    """An entry for code `pos` (substring `key`): (pos - start), then with check_bits the next
    table's substring (bits [check_start, +check_len)), then the tag (the key's bits that the
    bucket number leaves out)."""
    entry = np.int64(pos - start)
    if check_bits:
        entry = (entry << check_bits) | _substring(words, pos, check_start, check_len)
    return (entry << tag_bits) | (key & ((1 << tag_bits) - 1))


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def build_tables(
    words: Any,
    alive: Any,
    start: int,
    end: int,
    sub_start: Any,
    sub_len: Any,
    bucket_bits: int,
    check_bits: int,
    offsets: Any,
    entries: Any,
) -> None:
    """Sort the live positions in [start, end) into one CSR table per substring, written into
    `offsets` (tables, 2**bucket_bits + 1) and `entries` (tables, live codes in the range), each
    bucket's entries in position order.

    An entry packs (position - start) above the substring bits that the bucket number leaves out
    (the tag), so a probe can reject most of a bucket without touching the codes; with
    check_bits (uint64 entries) the next table's substring sits between them (see probe_tables).

    A two-level radix sort: entries first go to the span of the table that their bucket's high
    bits own (a few hundred sequential write streams), then each span is counting-sorted by the
    low _FINE_BITS while it sits in cache. One counting sort over millions of buckets wrote every
    entry to a random place: measured at 10 M codes, 3x slower with wide entries.
    """
    m = sub_start.shape[0]
    n_buckets = 1 << bucket_bits
    fine_bits = min(bucket_bits, _FINE_BITS)
    coarse_bits = bucket_bits - fine_bits
    n_fine = 1 << fine_bits
    keys = np.empty(end - start, np.uint32)  # substrings have at most 32 bits
    fine = np.empty(entries.shape[1], np.uint16)
    scratch = np.empty(0, entries.dtype)
    for t in range(m):
        tag_bits = sub_len[t] - bucket_bits
        fine_shift = tag_bits
        coarse_shift = tag_bits + fine_bits
        check_start, check_len = sub_start[(t + 1) % m], sub_len[(t + 1) % m]
        spans = np.zeros((1 << coarse_bits) + 1, np.int64)
        for pos in range(start, end):
            if alive[pos]:
                key = _substring(words, pos, sub_start[t], sub_len[t])
                keys[pos - start] = np.uint32(key)
                spans[(key >> coarse_shift) + 1] += 1
        for c in range(1 << coarse_bits):
            spans[c + 1] += spans[c]
        fill = spans.copy()
        for pos in range(start, end):
            if alive[pos]:
                key = np.int64(keys[pos - start])
                c = key >> coarse_shift
                entries[t, fill[c]] = _entry(
                    words, pos, start, key, tag_bits, check_bits, check_start, check_len
                )
                fine[fill[c]] = np.uint16((key >> fine_shift) & (n_fine - 1))
                fill[c] += 1
        counts = np.empty(n_fine + 1, np.int64)
        for c in range(1 << coarse_bits):
            lo, hi = spans[c], spans[c + 1]
            counts[:] = 0
            for e in range(lo, hi):
                counts[np.int64(fine[e]) + 1] += 1
            for f in range(n_fine):
                counts[f + 1] += counts[f]
            for f in range(n_fine):
                offsets[t, (c << fine_bits) + f] = lo + counts[f]
            if scratch.shape[0] < hi - lo:
                scratch = np.empty(2 * (hi - lo), entries.dtype)
            scratch[: hi - lo] = entries[t, lo:hi]
            for e in range(lo, hi):
                bucket = np.int64(fine[e])
                entries[t, lo + counts[bucket]] = scratch[e - lo]
                counts[bucket] += 1
        offsets[t, n_buckets] = spans[1 << coarse_bits]


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def extend_tables(
    offsets: Any,
    entries: Any,
    words: Any,
    alive: Any,
    start: int,
    mid: int,
    end: int,
    sub_start: Any,
    sub_len: Any,
    bucket_bits: int,
    check_bits: int,
    new_offsets: Any,
    new_entries: Any,
) -> None:
    """Tables over [start, end) from the tables over [start, mid) and the live codes in [mid, end),
    written into `new_offsets` and `new_entries` (tables, old entries + live codes added).

    A linear merge: each bucket's old entries are copied in order, then its new ones, so folding
    new codes into a 10 M index costs sequential copying instead of a scatter of every entry.
    Entries of codes removed since the old tables were built are kept (the probes skip them).
    """
    m = sub_start.shape[0]
    n_buckets = 1 << bucket_bits
    live = 0
    for pos in range(mid, end):
        if alive[pos]:
            live += 1
    packed = np.empty(live, np.int64)
    bucket_of = np.empty(live, np.int64)
    added = np.empty(live, new_entries.dtype)
    for t in range(m):
        tag_bits = sub_len[t] - bucket_bits
        check_start, check_len = sub_start[(t + 1) % m], sub_len[(t + 1) % m]
        counts = np.zeros(n_buckets + 1, np.int64)
        i = 0
        for pos in range(mid, end):
            if alive[pos]:
                key = _substring(words, pos, sub_start[t], sub_len[t])
                packed[i] = _entry(
                    words, pos, start, key, tag_bits, check_bits, check_start, check_len
                )
                bucket_of[i] = key >> tag_bits
                counts[bucket_of[i] + 1] += 1
                i += 1
        for b in range(n_buckets):
            counts[b + 1] += counts[b]
        added_offsets = counts.copy()
        for i in range(live):
            b = bucket_of[i]
            added[counts[b]] = packed[i]
            counts[b] += 1
        out = 0
        for b in range(n_buckets):
            new_offsets[t, b] = out
            for e in range(offsets[t, b], offsets[t, b + 1]):
                new_entries[t, out] = entries[t, e]
                out += 1
            for e in range(added_offsets[b], added_offsets[b + 1]):
                new_entries[t, out] = added[e]
                out += 1
        new_offsets[t, n_buckets] = out


@njit(cache=True, nogil=True, inline="always")  # type: ignore[untyped-decorator]
def _ring_holds(spread: Any, units: Any, first: int) -> bool:
    """Whether every run of tables first, first+1, ... (round the ring) holds at most its share
    of the radius: m * (differing bits in the run) <= (units of the run), for runs of 1..m."""
    m = spread.shape[0]
    bits = 0
    share = 0
    for length in range(m):
        t = (first + length) % m
        bits += spread[t]
        share += units[t]
        if m * bits > share:
            return False
    return True


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def probe_tables(
    queries: Any,
    words: Any,
    alive: Any,
    start: int,
    offsets: Any,
    entries: Any,
    bucket_bits: int,
    check_bits: int,
    masks: Any,
    masks_within: Any,
    sub_start: Any,
    sub_len: Any,
    radii: Any,
    units: Any,
    radius: int,
    first_query: int,
    out_q: Any,
    out_pos: Any,
    out_dist: Any,
) -> Any:
    """Every live code of one segment within `radius` of each query, via the substring tables.

    The pigeonring (Qin and Xiao, VLDB 2018): give table t units[t] (in m-ths of a bit, m tables,
    summing to at least m * radius). A code within `radius` then has a table t from which every
    run of tables round the ring, t, t+1, ..., differs from the query in at most the run's share
    of bits (the cyclic lemma). Such a code is found from table t alone: probed at radius
    radii[t] = floor(units[t] / m) (-1: skipped), and with check_bits, where each entry carries
    the next table's substring, a candidate must also keep the run of two tables within its share
    before its code is read (for random codes that drops ~99.9 % of candidates, the larger part
    of a query's random reads at 10 M codes). Each match is reported from the first such table
    only, decided from its bits alone, so no per-query stamp array is needed.

    `masks` lists every bucket_bits-wide XOR mask by popcount; masks_within[k] counts those of
    popcount <= k. Each table runs in three passes (bucket bounds, filtered entries, full
    distances) so that the random reads of a pass do not wait on one another. Every pass
    prefetches a few items ahead from its first item on (a bucket's first and last lines of
    entries), and the last pass of one query prefetches the first bucket bounds of the next, so
    no pass starts on cold misses. (A four-stage pipeline over queries, and one stream of
    (query, bucket) items, were both slower here, 0.84x and 0.68x: bursts of hundreds of
    prefetches outrun the CPU's outstanding-miss slots.)

    Queries run in blocks of _BLOCK, each block table by table (every query of the block probes
    table 0, then table 1...): a table's offsets and entries are then mostly read from cache, not
    DRAM (measured 1.5x the queries per CPU-second at 1 M codes, 1.25x at 10 M).

    Queries from first_query on fill the out_* arrays (query row, position, distance). Returns
    (matches written, next query): when the arrays fill up, the block that overflowed is dropped
    and the caller resumes from its first query with fresh arrays.
    """
    m = sub_start.shape[0]
    capacity = out_q.shape[0]
    found = 0
    block = min(_BLOCK, max(queries.shape[0] - first_query, 1))
    qkeys = np.empty((block, m), np.int64)
    spread = np.empty(m, np.int64)
    # Scratch for one table at a time: small enough to stay in L1/L2, and allocated once.
    most_probes = 1
    for t in range(m):
        if radii[t] >= 0:
            most_probes = max(most_probes, masks_within[min(radii[t], bucket_bits)])
    probe_lo = np.empty(most_probes, np.int64)
    probe_hi = np.empty(most_probes, np.int64)
    probe_used = np.empty(most_probes, np.int64)
    candidates = np.empty(4096, np.int64)
    check_mask = (1 << check_bits) - 1
    for block_start in range(first_query, queries.shape[0], block):
        found_before = found
        block_end = min(block_start + block, queries.shape[0])
        for qi in range(block_start, block_end):
            for t in range(m):
                qkeys[qi - block_start, t] = _substring(queries, qi, sub_start[t], sub_len[t])
        # Table by table over the block: one table's offsets and entries stay in cache while
        # every query of the block probes it.
        for t in range(m):
            rt = radii[t]
            if rt < 0:
                continue
            after = (t + 1) % m
            # The run of two tables t, t+1: with no check bits it is left to the last pass.
            pair_share = units[t] + units[after] if check_bits else m * 256
            tag_bits = sub_len[t] - bucket_bits
            tag_mask = (1 << tag_bits) - 1
            n_probes = masks_within[min(rt, bucket_bits)]
            for qi in range(block_start, block_end):
                q0, q1, q2, q3 = queries[qi, 0], queries[qi, 1], queries[qi, 2], queries[qi, 3]
                qrow = qi - block_start
                q_tag = qkeys[qrow, t] & tag_mask
                q_bucket = qkeys[qrow, t] >> tag_bits
                q_after = qkeys[qrow, after] if check_bits else 0
                # Pass 1: the entry range of every neighbouring bucket.
                n_entries: Any = 0
                if qi == block_start:
                    for j in range(min(n_probes, _AHEAD_BOUNDS)):
                        _prefetch(offsets, t, q_bucket ^ masks[j])
                for j in range(n_probes):
                    if j + _AHEAD_BOUNDS < n_probes:
                        _prefetch(offsets, t, q_bucket ^ masks[j + _AHEAD_BOUNDS])
                    b = q_bucket ^ masks[j]
                    lo = np.int64(offsets[t, b])
                    hi = np.int64(offsets[t, b + 1])
                    probe_lo[j] = lo
                    probe_hi[j] = hi
                    probe_used[j] = _ctpop(masks[j])
                    n_entries += hi - lo
                if candidates.shape[0] < n_entries + 1:
                    candidates = np.empty(2 * n_entries + 1, np.int64)
                # Pass 2: entries whose tag keeps the substring within the table's radius and
                # whose check keeps the pair within its share, without a branch on the test:
                # mispredictions would stall the other reads.
                c: Any = 0
                for j in range(min(n_probes, _AHEAD_ENTRIES)):
                    _prefetch(entries, t, probe_lo[j])
                    _prefetch(entries, t, max(probe_lo[j], probe_hi[j] - 1))
                for j in range(n_probes):
                    ahead = j + _AHEAD_ENTRIES
                    if ahead < n_probes:
                        # A bucket's first and last entries: ~30 % of buckets span two lines.
                        _prefetch(entries, t, probe_lo[ahead])
                        _prefetch(entries, t, max(probe_lo[ahead], probe_hi[ahead] - 1))
                    used = probe_used[j]
                    for e in range(probe_lo[j], probe_hi[j]):
                        entry = np.int64(entries[t, e])
                        near = used + _ctpop((entry & tag_mask) ^ q_tag)
                        pair = near + _ctpop(((entry >> tag_bits) & check_mask) ^ q_after)
                        candidates[c] = start + (entry >> (tag_bits + check_bits))
                        c += np.int64((near <= rt) & (m * pair <= pair_share))
                # Pass 3: full 256-bit distances.
                if qi + 1 < block_end:
                    next_bucket = qkeys[qrow + 1, t] >> tag_bits
                    for j in range(min(n_probes, _AHEAD_BOUNDS)):
                        _prefetch(offsets, t, next_bucket ^ masks[j])
                for i in range(min(c, _AHEAD_CODES)):
                    _prefetch(words, candidates[i], 0)
                for i in range(c):
                    if i + _AHEAD_CODES < c:
                        _prefetch(words, candidates[i + _AHEAD_CODES], 0)
                    pos = candidates[i]
                    d = _distance(words, pos, q0, q1, q2, q3)
                    if d > radius or not alive[pos]:
                        continue
                    for t2 in range(m):
                        key = _substring(words, pos, sub_start[t2], sub_len[t2])
                        spread[t2] = _ctpop(key ^ qkeys[qrow, t2])
                    if not _ring_holds(spread, units, t):
                        continue  # found from another table
                    owned_earlier = False
                    for t2 in range(t):
                        if radii[t2] >= 0 and _ring_holds(spread, units, t2):
                            owned_earlier = True
                            break
                    if owned_earlier:
                        continue
                    if found < capacity:
                        out_q[found] = qi
                        out_pos[found] = pos
                        out_dist[found] = d
                    found += 1
        if found > capacity:
            return found_before, block_start
    return found, queries.shape[0]


@njit(cache=True, nogil=True)  # type: ignore[untyped-decorator]
def scan_range(
    queries: Any,
    words: Any,
    alive: Any,
    start: int,
    end: int,
    radius: int,
    out_q: Any,
    out_pos: Any,
    out_dist: Any,
) -> Any:
    """Every live code in positions [start, end) within `radius` of each query, by brute force.

    Output as for probe_tables, except that it resumes by position: returns (matches written,
    next position). With several queries, blocks of codes stay in cache while every query
    passes over them.
    """
    capacity = out_q.shape[0]
    found = 0
    block = 4096 if queries.shape[0] > 1 else max(end - start, 1)
    for block_start in range(start, end, block):
        found_before = found
        block_end = min(block_start + block, end)
        for qi in range(queries.shape[0]):
            q0, q1, q2, q3 = queries[qi, 0], queries[qi, 1], queries[qi, 2], queries[qi, 3]
            for pos in range(block_start, block_end):
                d = _distance(words, pos, q0, q1, q2, q3)
                if d <= radius and alive[pos]:
                    if found < capacity:
                        out_q[found] = qi
                        out_pos[found] = pos
                        out_dist[found] = d
                    found += 1
        if found > capacity:
            return found_before, block_start
    return found, end
