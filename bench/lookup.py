"""Benchmark: single and batched hash lookups over HTTP against a running node (`tutela serve`
in a subprocess) with a bank of N random PDQ hashes (issue 18; target ≥ 20,000 hashes/s batched
on 2 cores, every planted neighbour found).

    python bench/lookup.py [--n 10000000] [--queries 20000] [--batch 1000] [--single 3000]
                           [--clients 4] [--threads 2] [--cores 0,1] [--no-http]
                           [--no-in-process] [--phases]

The bank is N random hashes plus neighbours planted 0..31 bits from some of the queries, imported
as `tutela bank import` does and snapshotted, so the node starts in seconds. Single lookups send
`{"signal_type", "value"}` one request each; batched ones `{"signal_type", "values"}` of
`--batch` hashes. Each answer is checked: a query with planted neighbours must get exactly their
distances back (random hashes are never within 31 bits of each other in practice). Set
TUTELA_DATABASE_URL to run against PostgreSQL.

Before the HTTP runs, the same batches go straight to a Matcher in this process from 1 and from
`--threads` threads, pinned to `--cores`: as lookups run now (no lock: each reads the published
view) and serialised by one lock around each call (as the matcher's lock did before), in the same
run, so the ratio says what the lock-free reads give.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tutela.api.hashing import batch_answer
from tutela.api.schemas import MatchBatchCreate
from tutela.api.uploads import parse_model
from tutela.auth.api_keys import create_api_key
from tutela.db import open_database
from tutela.indicators.banks import create_bank
from tutela.indicators.imports import import_file
from tutela.indicators.matcher import Matcher
from tutela.settings import Settings
from tutela.signals.base import hex_rows

TUTELA = str(Path(sys.executable).with_name("tutela"))
PLANTED = range(0, 32)  # within the bank's PDQ threshold (31)


def hexes(codes: np.ndarray) -> list[str]:
    return [row.tobytes().hex() for row in codes]


def flip(code: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    out = code.copy()
    for bit in rng.choice(256, count, replace=False):
        out[bit // 8] ^= np.uint8(1 << (bit % 8))
    return out


def make_bank(
    n: int, n_queries: int, seed: int, path: Path
) -> tuple[list[str], dict[int, list[int]]]:
    """Write the list file; return the queries and, by query row, the planted distances."""
    rng = np.random.default_rng(seed)
    queries = rng.integers(0, 256, (n_queries, 32), dtype=np.uint8)
    planted: dict[int, list[int]] = {}
    near = []
    for row in range(0, n_queries, max(1, n_queries // 2000)):  # about 2,000 planted
        distance = PLANTED[row % len(PLANTED)]
        near.append(flip(queries[row], distance, rng))
        planted[row] = [distance]
    with open(path, "w") as handle:
        handle.write("# benchmark list: random PDQ hashes and planted neighbours\n")
        handle.write("\n".join(hexes(np.array(near))) + "\n")
        left = n - len(near)
        while left > 0:
            chunk = rng.integers(0, 256, (min(left, 1_000_000), 32), dtype=np.uint8)
            handle.write("\n".join(hexes(chunk)) + "\n")
            left -= len(chunk)
    return hexes(queries), planted


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the node exited")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the node did not become ready")


def in_threads(
    clients: int,
    jobs: Sequence[object],
    work: Callable[[httpx.Client, object], None],
    url: str,
    key: str,
) -> float:
    """Run `work(client, job)` over the jobs from `clients` threads; seconds taken."""
    lock = threading.Lock()
    pending = list(reversed(jobs))
    failures: list[BaseException] = []

    def worker() -> None:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            while True:
                with lock:
                    if not pending or failures:
                        return
                    job = pending.pop()
                try:
                    work(client, job)
                except BaseException as error:  # reported after the run
                    failures.append(error)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return time.perf_counter() - started


def check(row: int, matches: list[dict[str, object]], planted: dict[int, list[int]]) -> None:
    got = sorted(int(str(m["distance"])) for m in matches)
    want = sorted(planted.get(row, []))
    if got != want:
        raise AssertionError(f"query {row}: distances {got}, planted {want}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--queries", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--single", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cores", default="0,1", help="CPUs to pin to (comma-separated)")
    parser.add_argument("--no-http", action="store_true", help="in-process comparison only")
    parser.add_argument(
        "--no-in-process", action="store_true", help="HTTP runs only (minutes less at 1 M)"
    )
    parser.add_argument(
        "--phases", action="store_true", help="also CPU per hash of each phase of a batch"
    )
    args = parser.parse_args()
    os.sched_setaffinity(0, {int(core) for core in args.cores.split(",")})

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        settings = Settings(data_dir=data, database_url=os.environ.get("TUTELA_DATABASE_URL"))
        listing = Path(tmp) / "list.txt"
        started = time.perf_counter()
        queries, planted = make_bank(args.n, args.queries, args.seed, listing)
        database = open_database(settings)
        bank = f"bench-{secrets.token_hex(4)}"
        create_bank(database, bank)
        report = import_file(database, bank, listing, signal_type="pdq")
        listing.unlink()
        matcher = Matcher(database)
        matcher.save_snapshot()
        key = create_api_key(database, "bench", ["match"])[1]
        print(f"bank: {report.added:,} hashes built in {time.perf_counter() - started:.0f} s")
        if args.phases:
            phases(matcher, queries, args.batch)
        if not args.no_in_process:
            in_process(matcher, queries, planted, args.batch, args.threads)
        del matcher
        database.close()
        if args.no_http:
            return

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "TUTELA_DATA_DIR": str(data)}
        started = time.perf_counter()
        node = subprocess.Popen(
            [TUTELA, "serve", "--port", str(port), "--workers", "0", "--hash-workers", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(url, node)
            print(f"node ready in {time.perf_counter() - started:.1f} s")
            single(url, key, queries[: args.single], planted, args.clients)
            batched(url, key, queries, planted, args.batch, args.clients, node.pid)
        finally:
            node.terminate()
            node.wait(60)


def in_process(
    matcher: Matcher,
    queries: list[str],
    planted: dict[int, list[int]],
    batch: int,
    threads: int,
) -> None:
    """Batched lookups straight to the Matcher, lock-free and serialised: throughput from 1 and
    `threads` threads (best of three rounds, with the CPU time the process got per second), and
    the latency of single lookups made while another thread streams batches."""
    starts = list(range(0, len(queries), batch))
    serialised = threading.Lock()

    def lookup(start: int, size: int, locked: bool) -> None:
        values = queries[start : start + size]
        if locked:
            with serialised:
                found = matcher.match_hashes("pdq", values, include_review=True)
        else:
            found = matcher.match_hashes("pdq", values, include_review=True)
        for offset, matches in enumerate(found):
            check(start + offset, [m.as_dict() for m in matches], planted)

    def work(pending: list[int], guard: threading.Lock, locked: bool) -> None:
        while True:
            with guard:
                if not pending:
                    return
                start = pending.pop()
            lookup(start, batch, locked)

    def rate(count: int, locked: bool) -> tuple[float, float]:
        best, cpu_share = 0.0, 0.0
        for _ in range(3):
            args = (list(reversed(starts)), threading.Lock(), locked)
            workers = [threading.Thread(target=work, args=args) for _ in range(count)]
            began, cpu = time.perf_counter(), time.process_time()
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            wall = time.perf_counter() - began
            if len(queries) / wall > best:
                best, cpu_share = len(queries) / wall, (time.process_time() - cpu) / wall
        return best, cpu_share

    def single_latency(locked: bool) -> tuple[float, float]:
        """Mean and 90th percentile ms of one-hash lookups, one every 5 ms, while another
        thread streams batches."""
        stop, streaming = threading.Event(), threading.Event()

        def stream() -> None:
            while not stop.is_set():
                lookup(0, batch, locked)
                streaming.set()

        streamer = threading.Thread(target=stream)
        streamer.start()
        times: list[float] = []
        try:
            streaming.wait()
            ends = time.perf_counter() + 3.0  # several batches long
            row = 0
            while time.perf_counter() < ends or len(times) < 20:
                began = time.perf_counter()
                lookup(row, 1, locked)
                times.append(time.perf_counter() - began)
                row = (row + 1) % len(queries)
                time.sleep(0.005)  # independent requests, not a queue behind one another
        finally:
            stop.set()
            streamer.join()
        ordered = sorted(times)
        return sum(times) / len(times) * 1000, ordered[len(ordered) * 9 // 10] * 1000

    lookup(0, batch, False)  # compiled and warm
    cores = sorted(os.sched_getaffinity(0))
    figures = {}
    for locked in (False, True):
        how = "serialised (one lock)" if locked else "lock-free"
        for count in (1, threads):
            figures[(count, locked)], share = rate(count, locked)
            print(
                f"in-process {how}, {count} thread(s) on cores {cores}: "
                f"{figures[(count, locked)]:,.0f} hashes/s ({share:.2f} CPU-s per s, "
                f"{figures[(count, locked)] / max(share, 1e-9):,.0f} per CPU-s)"
            )
    free, held = figures[(threads, False)], figures[(threads, True)]
    print(
        f"in-process: {threads} threads / 1 thread = {free / figures[(1, False)]:.2f}x lock-free, "
        f"{held / figures[(1, True)]:.2f}x serialised; lock-free / serialised at {threads} "
        f"threads = {free / held:.2f}x"
    )
    (free_ms, free_p90), (held_ms, held_p90) = single_latency(False), single_latency(True)
    print(
        f"in-process: single lookups beside a stream of {batch}-hash batches: mean "
        f"{free_ms:.2f} ms (p90 {free_p90:.2f}) lock-free, {held_ms:.2f} ms (p90 {held_p90:.2f}) "
        f"serialised"
    )


def phases(matcher: Matcher, queries: list[str], batch: int) -> None:
    """CPU per hash of each phase of the node's work on a batch, in this process: reading the
    JSON body, decoding the hashes, the index lookup (with the match objects of the hits), and
    writing the answer. What the node spends beyond their sum is HTTP, threads and background."""
    batches = [queries[start : start + batch] for start in range(0, len(queries), batch)]
    bodies = [json.dumps({"signal_type": "pdq", "values": values}).encode() for values in batches]
    found = [matcher.match_batch("pdq", values, include_review=True) for values in batches]

    def cpu_per_hash(work: Callable[[int], object]) -> float:
        began = time.process_time()
        for index in range(len(batches)):
            work(index)
        return (time.process_time() - began) / len(queries) * 1e6

    figures = {
        "read the JSON body": lambda i: parse_model(MatchBatchCreate, bodies[i], "body"),
        "decode the hashes": lambda i: hex_rows(batches[i], 64),
        "decode + index + matches": lambda i: matcher.match_batch(
            "pdq", batches[i], include_review=True
        ),
        "write the answer": lambda i: batch_answer(batches[i], found[i]),
    }
    for name, work in figures.items():
        print(f"phase: {name}: {min(cpu_per_hash(work) for _ in range(3)):.2f} CPU-us per hash")


def single(
    url: str, key: str, queries: list[str], planted: dict[int, list[int]], clients: int
) -> None:
    def work(client: httpx.Client, job: object) -> None:
        row = int(str(job))
        answer = client.post("/v1/match", json={"signal_type": "pdq", "value": queries[row]})
        answer.raise_for_status()
        check(row, answer.json()["matches"], planted)

    seconds = in_threads(clients, list(range(len(queries))), work, url, key)
    print(f"single: {len(queries):,} lookups in {seconds:.1f} s = {len(queries) / seconds:,.0f}/s")


def batched(
    url: str,
    key: str,
    queries: list[str],
    planted: dict[int, list[int]],
    batch: int,
    clients: int,
    node_pid: int,
) -> None:
    """Batched lookups, timed after one untimed pass over the same batches (a node that has run
    a while has its index pages in memory; the first pass faults them in from the snapshot).
    Besides the wall rate, the CPU the node and this client spent per hash: on a shared machine
    the rate follows the load, the CPU per hash much less, and 2 cores / (node + client CPU per
    hash) is the rate the 2 cores would give to these two processes alone."""

    def work(client: httpx.Client, job: object) -> None:
        start = int(str(job))
        values = queries[start : start + batch]
        answer = client.post("/v1/match", json={"signal_type": "pdq", "values": values})
        answer.raise_for_status()
        for offset, result in enumerate(answer.json()["results"]):
            check(start + offset, result["matches"], planted)

    jobs = list(range(0, len(queries), batch))
    in_threads(clients, jobs, work, url, key)  # warm-up, every answer checked too
    idle = cpu_seconds(node_pid)
    time.sleep(5)
    idle = (cpu_seconds(node_pid) - idle) / 5  # the node's background work, CPU-s per s
    node_cpu, client_cpu = cpu_seconds(node_pid), time.process_time()
    seconds = in_threads(clients, jobs, work, url, key)
    node_cpu = cpu_seconds(node_pid) - node_cpu
    client_cpu = time.process_time() - client_cpu
    print(
        f"node idle: {idle:.3f} CPU-s per s ({idle * seconds / len(queries) * 1e6:.1f} us per "
        "hash of the batched run below)"
    )
    found = sum(len(v) for v in planted.values())
    print(
        f"batched ({batch}/request): {len(queries):,} hashes in {seconds:.1f} s = "
        f"{len(queries) / seconds:,.0f} hashes/s; all {found:,} planted neighbours found"
    )
    per_node, per_client = node_cpu / len(queries), client_cpu / len(queries)
    print(
        f"batched CPU per hash: node {per_node * 1e6:.1f} us, client {per_client * 1e6:.1f} us "
        f"= {1 / per_node:,.0f} hashes per node CPU-second; 2 cores / (node + client) = "
        f"{2 / (per_node + per_client):,.0f} hashes/s"
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    main()
