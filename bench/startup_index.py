"""Benchmark: how long a node takes from start until it answers lookups against a big PDQ bank
(issue 18: matcher start-up at 10 M indicators, from the snapshot, in seconds).

    python bench/startup_index.py [--n 10000000] [--runs 3] [--data DIR] [--profile]

The bank is N random PDQ hashes plus a few hundred neighbours planted 0..31 bits from some
queries, imported as `tutela bank import` does and snapshotted as `tutela bank snapshot` does
(timed apart: that is set-up, not start-up). Then, each as a fresh process, `--runs` times:

- matcher: Python start, imports, `open_database`, `Matcher.load()`, and one lookup of every
  planted query (each must get its planted distance back): what any process that matches does;
- worker: `tutela.detection.worker.run_worker` until it reports ready (matcher loaded, hashing
  processes started, taking jobs): the detection worker's start;
- serve: `tutela serve --workers 0` until `/readyz` answers and a `/v1/match` batch of the
  planted queries comes back right: the API's start.

Each is measured twice: "cold", after the snapshot's files were evicted from the page cache
(posix_fadvise DONTNEED: no root needed; the database file is left cached), and "warm", right
after a start that read them. With `--data DIR` the bank is kept in DIR and reused by later runs
(`--resnapshot` writes its snapshot again, e.g. after the snapshot format changed).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tutela.auth.api_keys import create_api_key
from tutela.db import open_database
from tutela.indicators.banks import create_bank
from tutela.indicators.changes import latest_seq
from tutela.indicators.imports import import_file
from tutela.indicators.matcher import Matcher
from tutela.indicators.matcher_entries import EntryTable
from tutela.indicators.matcher_rows import enabled_rules
from tutela.indicators.matcher_snapshot import (
    MatcherState,
    database_identity,
    snapshot_directory,
    write_matcher_snapshot,
)
from tutela.indicators.models import Indicator
from tutela.matching import PdqIndex
from tutela.settings import Settings

SRC = str(Path(__file__).resolve().parents[1] / "src")
TUTELA = str(Path(sys.executable).with_name("tutela"))
PLANTED = range(0, 32)  # within the bank's PDQ threshold (31)
N_PLANTED = 256

# Runs in the child: everything a matching process does from its first line to its first answer.
MATCHER_CHILD = """
import json, sys, time
began, cpu = time.time(), [time.process_time()]
from pathlib import Path
from tutela.db import open_database
from tutela.indicators.matcher import Matcher
from tutela.settings import Settings
imported = time.time()
cpu.append(time.process_time())
queries = json.loads(sys.argv[2])
database = open_database(Settings(data_dir=Path(sys.argv[1])))
opened = time.time()
cpu.append(time.process_time())
matcher = Matcher(database)
if sys.argv[3] == "profile":
    import cProfile, pstats
    profile = cProfile.Profile()
    profile.runcall(matcher.load)
    pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
else:
    matcher.load()
loaded = time.time()
cpu.append(time.process_time())
found = matcher.match_hashes("pdq", queries, include_review=True)
answered = time.time()
cpu.append(time.process_time())
print(json.dumps({"cpu": cpu,
    "began": began, "imported": imported, "opened": opened, "loaded": loaded,
    "answered": answered, "from": matcher.loaded_from,
    "distances": [[m.distance for m in ms] for ms in found],
}))
"""

WORKER_CHILD = """
import json, sys, threading, time
began = time.time()
from pathlib import Path
from tutela.detection.worker import run_worker
from tutela.settings import Settings
stop = threading.Event()
ready = []
def on_ready():
    ready.append(time.time())
    ready.append(time.process_time())
    stop.set()
run_worker(Settings(data_dir=Path(sys.argv[1])), hash_workers=1, stop=stop, on_ready=on_ready)
print(json.dumps({"began": began, "ready": ready[0], "cpu": ready[1]}))
"""


def hexes(codes: np.ndarray) -> list[str]:
    return [row.tobytes().hex() for row in codes]


def flip(code: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    out = code.copy()
    for bit in rng.choice(256, count, replace=False):
        out[bit // 8] ^= np.uint8(1 << (bit % 8))
    return out


def make_list(n: int, seed: int, path: Path) -> tuple[list[str], list[int]]:
    """Write the list file; return the planted queries and each one's planted distance."""
    rng = np.random.default_rng(seed)
    queries = rng.integers(0, 256, (N_PLANTED, 32), dtype=np.uint8)
    distances = [PLANTED[row % len(PLANTED)] for row in range(N_PLANTED)]
    near = np.array([flip(q, d, rng) for q, d in zip(queries, distances, strict=True)])
    with open(path, "w") as handle:
        handle.write("# benchmark list: random PDQ hashes and planted neighbours\n")
        handle.write("\n".join(hexes(near)) + "\n")
        left = n - len(near)
        while left > 0:
            chunk = rng.integers(0, 256, (min(left, 1_000_000), 32), dtype=np.uint8)
            handle.write("\n".join(hexes(chunk)) + "\n")
            left -= len(chunk)
    return hexes(queries), distances


def set_up_synthetic(data: Path, n: int, seed: int) -> tuple[list[str], list[int], str]:
    """A database holding only the planted neighbours, and a snapshot of them plus n - 256 random
    codes under ids past theirs, written as `Matcher.save_snapshot` writes one (same database
    identity, rules and files). Start-up reads the snapshot and the database's change sequence,
    never the indicator rows, so it does the same work as against n imported rows; making the
    bank takes seconds instead of the import's tens of minutes on a loaded 2-core machine."""
    data.mkdir(parents=True, exist_ok=True)
    listing = data / "list.txt"
    started = time.perf_counter()
    queries, distances = make_list(N_PLANTED, seed, listing)
    database = open_database(Settings(data_dir=data))
    bank = f"bench-{secrets.token_hex(4)}"
    create_bank(database, bank)
    import_file(database, bank, listing, signal_type="pdq")
    listing.unlink()
    with database.reader() as session:
        rows = session.execute(select(Indicator.id, Indicator.bank_id, Indicator.value)).all()
        seq = latest_seq(session)
        identity = database_identity(session, seq)
        rules = enabled_rules(session)
    top = max(row.id for row in rows)
    ids = np.concatenate(
        [np.array([row.id for row in rows], np.int64), np.arange(top + 1, top + 1 + n - len(rows))]
    )
    codes = np.empty((n, 32), np.uint8)
    codes[: len(rows)] = [np.frombuffer(bytes.fromhex(row.value), np.uint8) for row in rows]
    rng = np.random.default_rng(seed + 1)
    for lo in range(len(rows), n, 1_000_000):
        hi = min(lo + 1_000_000, n)
        codes[lo:hi] = rng.integers(0, 256, (hi - lo, 32), dtype=np.uint8)
    entries = EntryTable()
    entries.put_many(ids, np.full(n, rows[0].bank_id, np.int64), "pdq")
    index = PdqIndex.build(ids, codes, copy=False)
    state = MatcherState(seq, rules, entries, {}, index, {})
    info = write_matcher_snapshot(snapshot_directory(data), state, identity)
    key = create_api_key(database, "bench", ["match"])[1]
    database.close()
    print(
        f"set-up (synthetic): {len(rows)} rows imported, {n:,} codes snapshotted in "
        f"{time.perf_counter() - started:.0f} s, {info.size_bytes / 1e6:,.0f} MB"
    )
    (data / "bench-bank.json").write_text(
        json.dumps({"n": n, "queries": queries, "distances": distances, "key": key})
    )
    return queries, distances, key


def set_up(data: Path, n: int, seed: int, resnapshot: bool) -> tuple[list[str], list[int], str]:
    """The bank (made unless `data` holds one of this size already) and an API key."""
    facts = data / "bench-bank.json"
    settings = Settings(data_dir=data)
    if facts.is_file() and json.loads(facts.read_text())["n"] == n:
        known = json.loads(facts.read_text())
        if resnapshot:
            database = open_database(settings)
            started = time.perf_counter()
            info = Matcher(database, use_snapshot=False).save_snapshot()
            print(
                f"snapshot rewritten in {time.perf_counter() - started:.1f} s ({info.size_bytes / 1e6:,.0f} MB)"
            )
            database.close()
        return known["queries"], known["distances"], known["key"]
    data.mkdir(parents=True, exist_ok=True)
    listing = data / "list.txt"
    started = time.perf_counter()
    queries, distances = make_list(n, seed, listing)
    database = open_database(settings)
    bank = f"bench-{secrets.token_hex(4)}"
    create_bank(database, bank)
    t = time.perf_counter()
    report = import_file(database, bank, listing, signal_type="pdq")
    imported = time.perf_counter() - t
    listing.unlink()
    t = time.perf_counter()
    info = Matcher(database, use_snapshot=False).save_snapshot()
    snapshotted = time.perf_counter() - t
    key = create_api_key(database, "bench", ["match"])[1]
    database.close()
    print(
        f"set-up: {report.added:,} hashes imported in {imported:.0f} s, snapshot (full load + "
        f"write) {snapshotted:.0f} s, {info.size_bytes / 1e6:,.0f} MB; "
        f"{time.perf_counter() - started:.0f} s in all"
    )
    facts.write_text(json.dumps({"n": n, "queries": queries, "distances": distances, "key": key}))
    return queries, distances, key


def evict(directory: Path) -> None:
    """Drop the directory's files from the page cache (clean pages only; no root needed)."""
    for path in directory.iterdir():
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def child_env(data: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": SRC,
        "TUTELA_DATA_DIR": str(data),
        "TUTELA_LOG_LEVEL": "info",
    }


def start_matcher(
    data: Path, queries: list[str], distances: list[int], profile: bool
) -> dict[str, float]:
    launched = time.time()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            MATCHER_CHILD,
            str(data),
            json.dumps(queries),
            "profile" if profile else "plain",
        ],
        env=child_env(data),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"matcher child failed:\n{done.stderr[-3000:]}")
    if profile:
        print(done.stderr[-6000:])
    got = json.loads(done.stdout.strip().splitlines()[-1])
    if got["from"] != "snapshot":
        raise RuntimeError(f"the matcher loaded from {got['from']}, not the snapshot")
    want = [[d] for d in distances]
    if got["distances"] != want:
        raise AssertionError("a planted neighbour was not found at its distance")
    cpu = got["cpu"]
    return {
        "CPU: imports": cpu[1],
        "CPU: open_database": cpu[2] - cpu[1],
        "CPU: Matcher.load": cpu[3] - cpu[2],
        "CPU: first lookups": cpu[4] - cpu[3],
        "CPU: all": cpu[4],
        "python + imports": got["imported"] - launched,
        "open_database": got["opened"] - got["imported"],
        "Matcher.load": got["loaded"] - got["opened"],
        "first lookups": got["answered"] - got["loaded"],
        "total": got["answered"] - launched,
    }


def start_worker(data: Path) -> dict[str, float]:
    launched = time.time()
    done = subprocess.run(
        [sys.executable, "-c", WORKER_CHILD, str(data)],
        env=child_env(data),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"worker child failed:\n{done.stderr[-3000:]}")
    got = json.loads(done.stdout.strip().splitlines()[-1])
    return {"CPU: worker process": got["cpu"], "total": got["ready"] - launched}


def start_serve(data: Path, queries: list[str], distances: list[int], key: str) -> dict[str, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    launched = time.time()
    node = subprocess.Popen(
        [TUTELA, "serve", "--port", str(port), "--workers", "0", "--hash-workers", "1"],
        env=child_env(data),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 600
        while True:
            if node.poll() is not None:
                raise RuntimeError("the node exited")
            if time.monotonic() > deadline:
                raise RuntimeError("the node did not become ready")
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        ready = time.time()
        ready_cpu = cpu_seconds(node.pid)
        answer = httpx.post(
            url + "/v1/match",
            json={"signal_type": "pdq", "values": queries},
            headers={"Authorization": f"Bearer {key}"},
            timeout=120,
        )
        answer.raise_for_status()
        answered = time.time()
        answered_cpu = cpu_seconds(node.pid)
        got = [sorted(m["distance"] for m in r["matches"]) for r in answer.json()["results"]]
        if got != [[d] for d in distances]:
            raise AssertionError("a planted neighbour was not found at its distance")
    finally:
        node.terminate()
        node.wait(60)
    return {
        "CPU: node until ready": ready_cpu,
        "CPU: node until answered": answered_cpu,
        "ready (/readyz 200)": ready - launched,
        "total": answered - launched,
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--data", type=Path, help="keep the bank here and reuse it")
    parser.add_argument("--resnapshot", action="store_true", help="write the snapshot again")
    parser.add_argument(
        "--synthetic",
        action="store_true",
        help="import only the planted rows; snapshot them with N random codes (see set_up_synthetic)",
    )
    parser.add_argument(
        "--unverified",
        action="store_true",
        help="remove the note of verified snapshot files before each start (every start then "
        "checks every file's checksum, as before the note existed)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile one cold Matcher.load")
    parser.add_argument("--only", choices=["matcher", "worker", "serve"], action="append")
    args = parser.parse_args()
    only = set(args.only or ["matcher", "worker", "serve"])

    with tempfile.TemporaryDirectory(prefix="tutela-startup-") as tmp:
        data = args.data or Path(tmp) / "data"
        facts = data / "bench-bank.json"
        if args.synthetic and not (
            facts.is_file() and json.loads(facts.read_text())["n"] == args.n
        ):
            queries, distances, key = set_up_synthetic(data, args.n, args.seed)
        else:
            queries, distances, key = set_up(data, args.n, args.seed, args.resnapshot)
        snapshot = snapshot_directory(data)
        stamp = snapshot.with_name(snapshot.name + ".verified")
        size = sum(p.stat().st_size for p in snapshot.iterdir() if p.is_file())
        print(
            f"bank: {args.n:,} PDQ hashes, snapshot {size / 1e6:,.0f} MB; load "
            f"{os.getloadavg()[0]:.2f} (1-min average), {os.cpu_count()} cores"
        )
        if args.profile:
            evict(snapshot)
            start_matcher(data, queries, distances, profile=True)

        kinds: dict[str, Callable[[], dict[str, float]]] = {
            "matcher": lambda: start_matcher(data, queries, distances, profile=False),
            "worker": lambda: start_worker(data),
            "serve": lambda: start_serve(data, queries, distances, key),
        }
        for name, start in kinds.items():
            if name not in only:
                continue
            for cache in ("cold", "warm"):
                runs = []
                for _ in range(args.runs):
                    if args.unverified:
                        stamp.unlink(missing_ok=True)
                    if cache == "cold":
                        evict(snapshot)
                    runs.append(start())
                medians = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                every = ", ".join(f"{r['total']:.2f}" for r in runs)
                parts = ", ".join(f"{k} {v:.2f}" for k, v in medians.items() if k != "total")
                print(
                    f"{name:8} {cache}: {medians['total']:6.2f} s wall until it answers "
                    f"(median of {args.runs}; {parts or 'no breakdown'}) "
                    f"[all: {every}]",
                    flush=True,
                )
        print(f"load after: {os.getloadavg()[0]:.2f} (1-min average)")


if __name__ == "__main__":
    main()
