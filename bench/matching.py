"""Benchmark: tutela PdqIndex vs faiss IndexBinaryMultiHash (HMA's PDQ index) at radius 31.

    python bench/matching.py [--n N] [--queries Q] [--radius R]

Random PDQ codes (seeded) plus neighbours planted at exactly 25..31 bits (must match) and 32..35
bits (must not) from some query codes. Ground truth is faiss IndexBinaryFlat's exhaustive range
search. Everything runs pinned to one core. Faiss is queried the way HMA's threatexchange
PDQMultiHashIndex does it: nflip = radius // nhash, range_search(queries, radius + 1) (faiss's
binary range search keeps distances strictly below its radius).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import faiss
import numba

from tutela.matching import PdqIndex, huge_pages

NHASH = 16
PLANTED_NEAR = range(25, 32)
PLANTED_FAR = range(32, 36)


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def flip_bits(code: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    out = code.copy()
    for bit in rng.choice(256, count, replace=False):
        out[bit // 8] ^= np.uint8(1 << (bit % 8))
    return out


def random_codes(n: int, rng: np.random.Generator) -> np.ndarray:
    """n random codes, written in place chunk by chunk from the generator's raw 64-bit output
    (no temporary the size of the whole: 100 M codes take 3.2 GB and ~10 s)."""
    words = huge_pages.empty((n, 4), np.uint64)  # read at random by the queries
    flat = words.reshape(-1)
    chunk = 1 << 24
    for lo in range(0, len(flat), chunk):
        hi = min(lo + chunk, len(flat))
        flat[lo:hi] = rng.bit_generator.random_raw(hi - lo)
    return words.view(np.uint8).reshape(n, 32)


def make_data(
    n: int, n_queries: int, seed: int, most_planting: int = 500
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(codes, queries, planted) where planted rows are (query row, code row, distance)."""
    rng = np.random.default_rng(seed)
    codes = random_codes(n, rng)
    queries = rng.integers(0, 256, (n_queries, 32), dtype=np.uint8)
    distances = [*PLANTED_NEAR, *PLANTED_FAR]
    n_planting = min(n_queries // 2, n // (4 * len(distances)), most_planting)
    rows = rng.choice(n, n_planting * len(distances), replace=False)
    planted = []
    k = 0
    for q in range(n_planting):
        for d in distances:
            codes[rows[k]] = flip_bits(queries[q], d, rng)
            planted.append((q, int(rows[k]), d))
            k += 1
    return codes, queries, np.array(planted, np.int64).reshape(-1, 3)


def as_pairs(results: list[list[tuple[int, int]]]) -> set[tuple[int, int, int]]:
    return {(q, i, d) for q, hits in enumerate(results) for i, d in hits}


def faiss_pairs(lims: np.ndarray, dists: np.ndarray, labels: np.ndarray) -> set[tuple[int, ...]]:
    out: set[tuple[int, ...]] = set()
    for q in range(len(lims) - 1):
        for j in range(lims[q], lims[q + 1]):
            out.add((q, int(labels[j]), int(dists[j])))
    return out


def percentile_ms(samples: list[float], p: float) -> float:
    return float(np.percentile(np.array(samples) * 1e3, p))


def time_single(search: object, queries: np.ndarray) -> tuple[list[float], float]:
    laps = []
    for i in range(len(queries)):
        t = time.perf_counter()
        search(queries[i : i + 1])  # type: ignore[operator]
        laps.append(time.perf_counter() - t)
    return laps, len(queries) / sum(laps)


def chunked_flat_truth(
    codes: np.ndarray, queries: np.ndarray, radius: int, chunk: int = 10_000_000
) -> set[tuple[int, ...]]:
    """Exhaustive range search by faiss IndexBinaryFlat over the codes a chunk at a time (a
    whole IndexBinaryFlat would hold a second copy of every code)."""
    out: set[tuple[int, ...]] = set()
    for lo in range(0, len(codes), chunk):
        flat = faiss.IndexBinaryFlat(256)
        flat.add(codes[lo : lo + chunk])
        lims, dists, labels = flat.range_search(queries, radius + 1)
        out |= {(q, i + lo, d) for q, i, d in faiss_pairs(lims, dists, labels)}
        del flat
    return out


def threaded_qps(
    index: PdqIndex, queries: np.ndarray, radius: int, cores: list[int], batch: int = 1000
) -> tuple[float, float]:
    """Batched queries/s from one thread per core, each pinned to its core (the kernels release
    the GIL), pulling batches of `batch` queries from a shared list, and the CPU-seconds per
    second the process got meanwhile. Best of three rounds."""
    best, share = 0.0, 0.0
    for _ in range(3):
        pending = list(range(0, len(queries), batch))
        guard = threading.Lock()

        def work(core: int, pending: list[int] = pending, guard: threading.Lock = guard) -> None:
            os.sched_setaffinity(0, {core})  # this thread only (Linux)
            while True:
                with guard:
                    if not pending:
                        return
                    lo = pending.pop()
                index.query(queries[lo : lo + batch], radius)

        threads = [threading.Thread(target=work, args=(core,)) for core in cores]
        began, cpu = time.perf_counter(), time.process_time()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began
        if len(queries) / wall > best:
            best, share = len(queries) / wall, (time.process_time() - cpu) / wall
    return best, share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--radius", type=int, default=31)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument(
        "--faiss-max",
        type=int,
        default=20_000_000,
        help="largest N for faiss's whole-bank indexes (each holds its own copy of the codes); "
        "above it the ground truth is IndexBinaryFlat a chunk at a time, and the changes "
        "(adds, snapshot) are skipped: growing the arrays would copy them",
    )
    parser.add_argument(
        "--watch",
        type=float,
        default=0.0,
        help="then, for this many seconds, repeat the run on every core every few seconds and "
        "report the best (on a shared machine: the quietest moment), with its load average",
    )
    parser.add_argument(
        "--only-cores",
        action="store_true",
        help="build the index and measure only the run on every core (with --watch)",
    )
    args = parser.parse_args()
    n, radius = args.n, args.radius
    big = n > args.faiss_max

    # One core for every system, so the ratio compares algorithms, not thread counts; all the
    # cores this process may use for the threaded run at the end.
    all_cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {all_cores[0]})
    faiss.omp_set_num_threads(1)
    numba.set_num_threads(1)

    t = time.perf_counter()
    codes, queries, planted = make_data(n, args.queries, args.seed, 100 if big else 500)
    ids = np.arange(n, dtype=np.int64)
    print(
        f"data: {n:,} codes, {len(queries):,} queries, {len(planted)} planted neighbours "
        f"({time.perf_counter() - t:.1f} s)",
        flush=True,
    )
    # Warm the numba cache (compiled once per machine, then loaded from disk).
    PdqIndex.build(ids[:5000], codes[:5000]).query(queries[:2], radius)

    rows: list[tuple[str, str, str]] = []
    if args.only_cores:
        index = PdqIndex.build(ids, codes, copy=False)
        probe = index.query(queries[:200], radius)
        near_pairs = {(int(q), int(i)) for q, i, d in planted if d <= radius and q < 200}
        probe_hits = {(q, i) for q, row in enumerate(probe) for i, _ in row}
        print(f"planted 25-31 found: {len(near_pairs & probe_hits)}/{len(near_pairs)}", flush=True)
        watch(index, queries, radius, all_cores, args.watch)
        return

    rss0 = rss_bytes()
    t = time.perf_counter()
    # The index keeps these arrays (no copy): nothing below changes them.
    index = PdqIndex.build(ids, codes, copy=False)
    tutela_build = time.perf_counter() - t
    tutela_mem = index.memory_bytes()
    tutela_rss = rss_bytes() - rss0 + codes.nbytes + ids.nbytes  # the arrays it kept
    print(f"tutela index built in {tutela_build:.1f} s, {tutela_mem / 2**30:.2f} GiB", flush=True)

    if not big:
        rss0 = rss_bytes()
        t = time.perf_counter()
        multihash = faiss.IndexBinaryMultiHash(256, NHASH, 256 // NHASH)
        multihash.add(codes)
        multihash.nflip = radius // NHASH
        faiss_build = time.perf_counter() - t
        faiss_rss = rss_bytes() - rss0
        flat = faiss.IndexBinaryFlat(256)
        flat.add(codes)
        rows.append(("build time (s)", f"{tutela_build:.2f}", f"{faiss_build:.2f}"))
        faiss_mem = f"RSS +{faiss_rss / 1e6:.0f}"
    else:
        rows.append(("build time (s)", f"{tutela_build:.2f}", "(does not fit)"))
        faiss_mem = "(does not fit)"
    rows.append(
        (
            "index memory (MB)",
            f"{tutela_mem / 1e6:.0f} (RSS +{tutela_rss / 1e6:.0f})",
            faiss_mem,
        )
    )

    # Ground truth: exhaustive search over a sample that includes every planted query.
    most_truth = 100 if big else 1000
    n_truth = min(
        len(queries), max(int(planted[:, 0].max()) + 1 if len(planted) else 0, most_truth)
    )
    t = time.perf_counter()
    if big:
        truth = chunked_flat_truth(codes, queries[:n_truth], radius)
    else:
        truth = faiss_pairs(*flat.range_search(queries[:n_truth], radius + 1))
    flat_qps = n_truth / (time.perf_counter() - t)

    # Tutela: single queries, then one batch of all queries. One query first: the small index
    # above may have been scanned, not probed, so the probe kernel may still need compiling.
    index.query(queries[:1], radius)
    n_single = min(len(queries), 2000)
    laps, tutela_single_qps = time_single(lambda q: index.query(q, radius), queries[:n_single])
    t, cpu = time.perf_counter(), time.process_time()
    results = index.query(queries, radius)
    tutela_batch_qps = len(queries) / (time.perf_counter() - t)
    tutela_cpu_qps = len(queries) / (time.process_time() - cpu)
    found = as_pairs(results[:n_truth])
    tutela_recall = len(found & truth) / max(len(truth), 1)
    tutela_fp = len(found - truth)
    tutela_lat = f"{percentile_ms(laps, 50):.3f} / {percentile_ms(laps, 99):.3f}"

    if not big:
        # Faiss multihash is slow at 10 M: time a smaller sample (planted queries first).
        n_faiss = max(50, min(len(queries), int(1e9 // n)))
        f_laps, faiss_single_qps = time_single(
            lambda q: multihash.range_search(q, radius + 1), queries[:n_faiss]
        )
        t, cpu = time.perf_counter(), time.process_time()
        f_found = faiss_pairs(*multihash.range_search(queries[:n_faiss], radius + 1))
        faiss_batch_qps = n_faiss / (time.perf_counter() - t)
        faiss_cpu_qps = n_faiss / (time.process_time() - cpu)
        f_truth = {p for p in truth if p[0] < min(n_faiss, n_truth)}
        faiss_recall = len(f_found & f_truth) / max(len(f_truth), 1)
        f_lat = f"{percentile_ms(f_laps, 50):.3f} / {percentile_ms(f_laps, 99):.3f}"
        f_single, f_batch = f"{faiss_single_qps:,.0f}", f"{faiss_batch_qps:,.0f}"
        f_recall, f_fp = f"{faiss_recall:.4f}", str(len(f_found - f_truth))
        del multihash, flat
    else:
        n_faiss = 0
        f_lat = f_single = f_batch = f_recall = f_fp = ""

    rows.append(("latency p50 / p99 (ms)", tutela_lat, f_lat))
    rows.append(("single queries/s", f"{tutela_single_qps:,.0f}", f_single))
    rows.append(("batched queries/s", f"{tutela_batch_qps:,.0f}", f_batch))
    # This machine is shared: the CPU-seconds each run got say what the cores would give.
    rows.append(
        (
            "batched queries per CPU-second",
            f"{tutela_cpu_qps:,.0f}",
            "" if big else f"{faiss_cpu_qps:,.0f}",
        )
    )
    threaded = 0.0
    if len(all_cores) > 1:
        threaded, share = threaded_qps(index, queries, radius, all_cores)
        rows.append(
            (
                f"batched queries/s, {len(all_cores)} cores",
                f"{threaded:,.0f} ({share:.2f} CPU-s/s)",
                "",
            )
        )
    rows.append((f"recall @ {radius} vs flat", f"{tutela_recall:.4f}", f_recall))
    rows.append(("false positives", str(tutela_fp), f_fp))

    # Planted neighbours: every 25..31 found with its distance, no 32..35 one.
    planted_near = {(int(q), int(i), int(d)) for q, i, d in planted if d <= radius}
    planted_far = {(int(q), int(i)) for q, i, d in planted if d > radius}
    found_pairs = {(q, i) for q, i, _ in found}
    near_hits = len(planted_near & found)
    far_hits = len(planted_far & found_pairs)
    rows.append(
        ("planted 25-31 found", f"{near_hits}/{len(planted_near)}", ""),
    )
    rows.append(("planted 32-35 found", f"{far_hits}/{len(planted_far)}", ""))

    if not big:
        changes(index, n, radius, queries, args.seed, rows)
    if args.watch:
        watch(index, queries, radius, all_cores, args.watch)
    rows.append(
        ("faiss IndexBinaryFlat q/s" + (" (chunks)" if big else ""), "", f"{flat_qps:,.2f}")
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    rows.append(("peak RSS of this run (GB)", f"{peak / 1e9:.1f}", ""))

    width = max(len(r[0]) for r in rows)
    print(f"\n{'N = ' + format(n, ','):<{width}}  {'tutela':>26}  {'faiss-multihash':>20}")
    for name, ours, theirs in rows:
        print(f"{name:<{width}}  {ours:>26}  {theirs:>20}")
    print(
        f"(tutela: {len(queries):,} batched / {n_single:,} single queries; faiss-multihash: "
        f"{n_faiss:,}; ground truth over {n_truth:,} queries)\n"
    )
    if big:
        ratio = tutela_batch_qps / flat_qps
        print(
            f"matching: tutela {tutela_batch_qps:,.0f} q/s ({tutela_cpu_qps:,.0f} per CPU-s) "
            "on one core "
            f"({threaded:,.0f} on {len(all_cores)}) vs faiss IndexBinaryFlat {flat_qps:,.2f} "
            f"q/s = {ratio:.0f}× (N={n:,}, recall {round(tutela_recall, 4)}, "
            f"{tutela_mem / 2**30:.2f} GiB; faiss-multihash does not fit)"
        )
        return
    ratio = tutela_cpu_qps / faiss_cpu_qps
    print(
        f"matching: tutela {tutela_cpu_qps:,.0f} vs faiss-multihash {faiss_cpu_qps:,.0f} "
        f"queries per CPU-second = {ratio:.1f}× (N={n:,}, recall {round(tutela_recall, 4)}; "
        f"wall {tutela_batch_qps:,.0f} q/s on one core, {threaded:,.0f} on {len(all_cores)})"
    )


def watch(
    index: PdqIndex, queries: np.ndarray, radius: int, cores: list[int], seconds: float
) -> None:
    """The run on every core, again and again for `seconds`: the best rate, its CPU share and
    the load average then, and the queries per CPU-second over all rounds."""
    ends = time.monotonic() + seconds
    best = (0.0, 0.0, 0.0)
    rates: list[float] = []
    while True:
        rate, share = threaded_qps(index, queries, radius, cores)
        load = os.getloadavg()[0]
        rates.append(rate / max(share, 1e-9))
        if rate > best[0]:
            best = (rate, share, load)
            print(
                f"  {time.strftime('%H:%M:%S')}: {rate:,.0f} q/s on {len(cores)} cores "
                f"({share:.2f} CPU-s/s, load {load:.1f})",
                flush=True,
            )
        if time.monotonic() >= ends:
            break
        time.sleep(5)
    print(
        f"best on {len(cores)} cores: {best[0]:,.0f} q/s ({best[1]:.2f} CPU-s/s, load average "
        f"{best[2]:.1f}); over {len(rates)} rounds {np.median(rates):,.0f} queries per CPU-second "
        f"(median) = {np.median(rates) * len(cores):,.0f} q/s projected on {len(cores)} free cores"
    )


def changes(
    index: PdqIndex,
    n: int,
    radius: int,
    queries: np.ndarray,
    seed: int,
    rows: list[tuple[str, str, str]],
) -> None:
    """Live adds, a trickle of adds and a snapshot round trip, as rows."""
    # Live adds: 100,000 new codes, half planted near fresh queries, matchable at once.
    rng = np.random.default_rng(seed + 1)
    n_add = 100_000
    add_codes = rng.integers(0, 256, (n_add, 32), dtype=np.uint8)
    add_queries = rng.integers(0, 256, (200, 32), dtype=np.uint8)
    add_rows = rng.choice(n_add, len(add_queries), replace=False)
    for q, row in enumerate(add_rows):
        add_codes[row] = flip_bits(add_queries[q], 25 + q % 7, rng)
    add_ids = np.arange(n, n + n_add, dtype=np.int64)
    t = time.perf_counter()
    index.add(add_ids, add_codes)
    add_time = time.perf_counter() - t
    add_results = index.query(add_queries, radius)
    add_found = sum(
        any(i == n + int(add_rows[q]) for i, _ in hits) for q, hits in enumerate(add_results)
    )
    rows.append(("add 100k codes (s)", f"{add_time:.3f}", ""))
    rows.append(("new codes matched at once", f"{add_found}/{len(add_queries)}", ""))

    # The same again as a trickle: 1,000 batches of 100, each matchable before the next.
    trickle_ids = add_ids + n_add
    t = time.perf_counter()
    for lo in range(0, n_add, 100):
        index.add(trickle_ids[lo : lo + 100], add_codes[lo : lo + 100])
    trickle_time = time.perf_counter() - t
    trickle_hits = index.query(add_codes[-1:], 0)[0]
    rows.append(("add 100k as 1,000 x 100 (s)", f"{trickle_time:.3f}", ""))
    rows.append(("last trickled code matched", str((int(trickle_ids[-1]), 0) in trickle_hits), ""))

    # Snapshot round trip.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pdq.idx"
        t = time.perf_counter()
        index.save(path)
        save_time = time.perf_counter() - t
        t = time.perf_counter()
        loaded = PdqIndex.load(path)
        load_time = time.perf_counter() - t
        same = loaded.query(queries[:200], radius) == index.query(queries[:200], radius)
        del loaded
    rows.append(("snapshot save / load (s)", f"{save_time:.2f} / {load_time:.2f}", ""))
    rows.append(("snapshot answers identical", str(same), ""))


if __name__ == "__main__":
    main()
