"""Items per second of `tutela scan` on the local cores against `tutela scan --ray` on a Ray
cluster of one node and of two nodes (separate `ray start` processes on this machine, the same
CPUs in all), over the same directory of drawn JPEGs, each with a fresh SQLite database holding a
small bank; and raw hashing of the same files as the floor.

    python bench/scan.py [N] [--size PX] [--bank HASHES --planted K] [--modes local,ray-2-nodes]
                             (default 500 files of 640×640; BENCH_JOBS, default 2)

The modes: `local` (BENCH_JOBS hashing processes), `ray-1-node` (a head with BENCH_JOBS CPUs),
`ray-2-nodes` (a head and a worker node, BENCH_JOBS CPUs between them); each cluster is started
before its scan and its start-up (until the cluster counts every CPU) is reported apart. Per mode
four figures: the command's wall time end to end (start-up included: Ray's is long),
the steady rate (items decided between the first and the last verdict, from the items' decided_at:
start-up and the tail excluded), and the CPU seconds per item of the whole command tree (the
command and every process it started and waited for: hashing processes, and in Ray mode the
raylet, GCS, object store and Ray workers), from wait4's rusage; and the same command run again
(every file skipped), whose CPU is what start-up and listing cost, so that the CPU per item
beyond it shows what each file costs (local mode only: Ray's worker processes are children of
its raylet, which is killed at shutdown, so much of their CPU never reaches the command's
rusage; Ray's CPU figures are a lower bound and vary with its start-up). Raw hashing is a Hasher with
BENCH_JOBS isolated processes fed from memory, no database, no matching.

With `--bank HASHES` the bank holds HASHES indicators instead of 20 drawn images' hashes: random
PDQ hashes plus the exact PDQ of `--planted` of the backlog's own files (issue 18: 20,000 images
against 1,000,000 indicators). It is imported and snapshotted once and copied into each mode's
data directory (set-up, not timed). After each scan, every file must have exactly one item with
one verdict: the planted files `review` or `action` with one match, their own indicator; every
other file `no_match` with none; the re-run must skip every file and decide none.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import numpy as np

from provider_fixtures import TUTELA, drawn_image, jpeg, make_bank
from ray_cluster import RayCluster
from scan_writes import write_rates
from tutela.db.database import open_database
from tutela.detection.hasher import Hasher
from tutela.detection.models import Item, ItemMatch, ItemStatus
from tutela.indicators.banks import create_bank
from tutela.indicators.imports import import_file
from tutela.indicators.matcher import Matcher
from tutela.indicators.models import Indicator
from tutela.media.limits import MediaLimits
from tutela.settings import Settings
from tutela.signals.hashing import pdq_of_bytes
from tutela.signals.pdq import PdqMode


@dataclass(frozen=True)
class Figures:
    wall_s: float
    steady_rate: float
    cpu_per_item_ms: float
    decided: int
    # The same command again over the same files, every one skipped: start-up and listing.
    rerun_wall_s: float
    rerun_cpu_s: float
    # CPU seconds the Ray cluster's processes spent during the scan (0 for a local scan).
    cluster_cpu_s: float = 0.0
    # CPU seconds during the scan by kind of process (the command, its hashing processes, the
    # raylet, Ray workers, ...), sampled from /proc (CpuSampler).
    cpu_by_kind: dict[str, float] = field(default_factory=dict)

    def marginal_cpu_ms(self) -> float:
        """CPU per item beyond what start-up and listing cost."""
        total = self.cpu_per_item_ms * self.decided / 1000
        return (total - self.rerun_cpu_s) / self.decided * 1000


def run(
    command: list[str], env: dict[str, str], root: Path, sessions: set[int] | None = None
) -> tuple[float, float, dict[str, float]]:
    """Wall seconds and CPU seconds of the command's whole process tree (run in a session of its
    own); and the CPU seconds by kind of process of that session and `sessions` (a cluster's)."""
    started = time.perf_counter()
    with open(root / "out.jsonl", "wb") as out, open(root / "err.txt", "wb") as err:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=err, start_new_session=True)
        sampler = CpuSampler({process.pid, *(sessions or set())})
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        by_kind = sampler.stop()
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{command} failed: {(root / 'err.txt').read_text()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, by_kind


def sessions_cpu(sessions: set[int]) -> float:
    """CPU seconds (user + system, own and reaped children's) of every live process in these
    sessions: a Ray cluster's nodes each run in a session of their own (tests/ray_cluster.py),
    with their raylet, GCS, object store, Ray workers and those workers' hashing processes."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) in sessions:  # field 6 of stat: the session id
            total += sum(int(f) for f in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")


def _stat(pid: str) -> tuple[int, int, int, float] | None:
    """(parent pid, session id, start time in ticks, own CPU seconds) of a live process."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (
        int(fields[1]),
        int(fields[3]),
        int(fields[19]),
        (int(fields[11]) + int(fields[12])) / ticks,
    )


def _command_line(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as line:
            return line.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def kind_of(line: str, parent_line: str) -> str:
    """A process's kind, by its command line as it is now (a Ray worker starts as a Python
    script naming the raylet, then retitles itself `ray::…`); a forked hashing process has its
    parent's command line."""
    program = line.split(" ", 1)[0]
    if "multiprocessing.spawn" in line or (line and line == parent_line):
        return "hashing processes"
    if "multiprocessing.resource_tracker" in line:
        return "resource trackers"
    if program.endswith("/raylet"):  # before workers: its arguments name default_worker.py
        return "raylet"
    if (line.startswith("ray::") and not program.endswith("Agent")) or "default_worker.py" in line:
        return "ray workers"  # tasks' workers (not the dashboard's or runtime envs' agents)
    if program.endswith("/gcs_server"):
        return "gcs_server"
    if "/tutela scan " in line:  # python …/bin/tutela scan …
        return "tutela scan (driver)"
    return "ray agents and other"


@dataclass
class CpuSampler:
    """Own CPU seconds (user + system) of every process in `sessions`, by kind, sampled every
    `period` seconds from /proc while the scan runs: a process's CPU from the first to the last
    sample that saw it (all of it for one started after the first sample). A process living
    less than one period between samples is missed: hashing processes and Ray workers live for
    the whole scan, so what is missed is small (an exit's final CPU, at most one period's)."""

    sessions: set[int]
    period: float = 0.25
    _first: dict[tuple[int, int], float] = field(default_factory=dict)
    _last: dict[tuple[int, int], float] = field(default_factory=dict)
    _kind: dict[tuple[int, int], str] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self, *, initial: bool = False) -> None:
        seen: dict[str, tuple[int, int, int, float]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit() and (found := _stat(entry)) is not None:
                seen[entry] = found
        for pid, (parent, session, started, cpu) in seen.items():
            if session not in self.sessions:
                continue
            key = (int(pid), started)
            if key not in self._first:
                self._first[key] = cpu if initial else 0.0
            # A zombie's command line is empty: it keeps the kind it had.
            if line := _command_line(pid):
                parent_line = _command_line(str(parent)) if str(parent) in seen else ""
                self._kind[key] = kind_of(line, parent_line)
            self._kind.setdefault(key, "ray agents and other")
            self._last[key] = cpu

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.sample()

    def start(self) -> None:
        self.sample(initial=True)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, float]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        by_kind: dict[str, float] = {}
        for key, kind in self._kind.items():
            by_kind[kind] = by_kind.get(kind, 0.0) + self._last[key] - self._first[key]
        return dict(by_kind)


def big_bank(data: Path, hashes: int, planted: dict[str, str], seed: int = 18) -> dict[str, int]:
    """A data directory with one verified bank of `hashes` indicators, `planted` (file name →
    PDQ) among them and random ones besides, imported and snapshotted; each planted file's
    indicator id."""
    database = open_database(Settings(data_dir=data))
    create_bank(database, "known", verified=True)
    rng = np.random.default_rng(seed)
    listing = data / "list.txt"
    with open(listing, "w") as out:
        out.write("\n".join(planted.values()) + "\n")
        left = hashes - len(planted)
        while left > 0:
            chunk = rng.integers(0, 256, (min(left, 100_000), 32), dtype=np.uint8)
            out.write("\n".join(bytes(row).hex() for row in chunk) + "\n")
            left -= len(chunk)
    report = import_file(database, "known", listing, signal_type="pdq")
    listing.unlink()
    assert report.added == hashes, report
    Matcher(database).save_snapshot()
    with database.reader() as session:
        ids = dict(
            session.execute(
                select(Indicator.value, Indicator.id).where(
                    Indicator.value.in_(list(planted.values()))
                )
            ).all()
        )
    database.close()
    return {name: ids[value] for name, value in planted.items()}


def check_verdicts(
    database_dir: Path, out: Path, files: int, planted: dict[str, int]
) -> dict[str, int]:
    """Every file one item with one verdict: planted files review/action with one match (their
    own indicator), the others no_match with none; verdicts counted."""
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    by_name: dict[str, dict[str, object]] = {}
    for line in lines[:-1]:
        name = Path(str(line["path"])).name
        assert name not in by_name, f"{name} reported twice"
        by_name[name] = line
    assert len(by_name) == files, (len(by_name), files)
    counts: dict[str, int] = {}
    for name, line in by_name.items():
        verdict = str(line["verdict"])
        counts[verdict] = counts.get(verdict, 0) + 1
        matches = line["matches"]
        assert isinstance(matches, list)
        if name in planted:
            assert verdict in ("review", "action"), (name, verdict)
            assert [m["indicator_id"] for m in matches] == [planted[name]], (name, matches)
        else:
            assert verdict == "no_match" and not matches, (name, verdict, matches)
    database = open_database(Settings(data_dir=database_dir))
    with database.reader() as session:
        items = session.scalar(select(func.count(Item.id))) or 0
        done = (
            session.scalar(select(func.count(Item.id)).where(Item.status == ItemStatus.DONE)) or 0
        )
        per_item = dict(
            session.execute(
                select(ItemMatch.item_id, func.count()).group_by(ItemMatch.item_id)
            ).all()
        )
    database.close()
    assert items == done == files, (items, done, files)
    ids = {int(str(line["id"])) for line in by_name.values()}
    assert len(ids) == files
    matched = {int(str(by_name[name]["id"])) for name in planted}
    assert per_item == {ident: 1 for ident in matched}, "an item matched twice or wrongly"
    return counts


def run_scan(
    root: Path,
    backlog: Path,
    jobs: int,
    *ray: str,
    ray_env: dict[str, str] | None = None,
    template: Path | None = None,
    planted: dict[str, int] | None = None,
    cluster: RayCluster | None = None,
) -> Figures:
    settings = Settings(data_dir=root / "data")
    if template is not None:
        shutil.copytree(template, settings.data_dir)
    database = open_database(settings)
    if template is None:
        make_bank(database, "known", [drawn_image(i) for i in range(20)])
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTELA_")}
    env |= {"TUTELA_DATA_DIR": str(settings.data_dir), **(ray_env or {})}
    command = [TUTELA, "scan", "--json", f"--jobs={jobs}", *ray, str(backlog)]
    sessions = {node.pid for node in cluster.nodes} if cluster is not None else set()
    cluster_cpu = sessions_cpu(sessions)
    wall, cpu, by_kind = run(command, env, root, sessions)
    cluster_cpu = sessions_cpu(sessions) - cluster_cpu
    with database.reader() as session:
        first, last, count = session.execute(
            select(func.min(Item.decided_at), func.max(Item.decided_at), func.count()).where(
                Item.status == ItemStatus.DONE
            )
        ).one()
    database.close()
    files = sum(1 for _ in backlog.iterdir())
    if planted is not None:
        counts = check_verdicts(settings.data_dir, root / "out.jsonl", files, planted)
        print(f"  checked: one item and one verdict per file, {counts}; planted all found once")
    rerun_wall, rerun_cpu, _ = run(command, env, root)
    summary = json.loads((root / "out.jsonl").read_text().splitlines()[-1])
    assert summary["skipped"] == files, summary
    span = (last - first).total_seconds() if first and last else 0.0
    steady = (count - 1) / span if span else 0.0
    return Figures(
        wall, steady, cpu / count * 1000, count, rerun_wall, rerun_cpu, cluster_cpu, by_kind
    )


def raw_rate(files: list[bytes], jobs: int) -> float:
    with Hasher(MediaLimits(), workers=jobs) as hasher:
        list(hasher.hash_many(enumerate(files[:20])))  # warm
        started = time.perf_counter()
        list(hasher.hash_many(enumerate(files)))
        return len(files) / (time.perf_counter() - started)


MODES = {"local": 0, "ray-1-node": 1, "ray-2-nodes": 2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=500, help="files in the backlog")
    parser.add_argument("--size", type=int, default=640, help="the drawn images' side (px)")
    parser.add_argument("--bank", type=int, default=0, help="indicators in the bank (random)")
    parser.add_argument("--planted", type=int, default=0, help="backlog files in the bank")
    parser.add_argument(
        "--modes", default=",".join(MODES), help="comma-separated, of " + ", ".join(MODES)
    )
    args = parser.parse_args()
    count, modes = args.count, args.modes.split(",")
    jobs = int(os.environ.get("BENCH_JOBS", "2"))
    with tempfile.TemporaryDirectory(prefix="scan-ray-") as temp:
        root = Path(temp)
        backlog = root / "backlog"
        backlog.mkdir()
        started = time.perf_counter()
        files = [jpeg(drawn_image(10_000 + i, size=args.size)) for i in range(count)]
        for i, data in enumerate(files):
            (backlog / f"{i:05}.jpg").write_bytes(data)
        print(
            f"{count} drawn {args.size}×{args.size} JPEGs ({time.perf_counter() - started:.0f} s), "
            f"{jobs} CPUs, {os.cpu_count()} cores; load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        template, planted = None, None
        if args.bank:
            started = time.perf_counter()
            chosen = range(0, count, max(1, count // max(1, args.planted)))[: args.planted]
            hashes = {
                f"{i:05}.jpg": pdq_of_bytes(files[i], mode=PdqMode.EXACT).hash for i in chosen
            }
            template = root / "template"
            planted = big_bank(template, args.bank, hashes)
            print(
                f"bank: {args.bank:,} indicators, {len(planted)} of them the PDQ of backlog files "
                f"({time.perf_counter() - started:.0f} s, not timed below)",
                flush=True,
            )
        raw = raw_rate(files[: min(count, 2000)], jobs)
        print(
            f"raw hashing      {raw:8.1f} items/s  ({1000 * jobs / raw:.1f} ms CPU-bound per file)",
            flush=True,
        )
        results = {}
        for name in modes:
            nodes = MODES[name]
            (root / name).mkdir()
            if not nodes:
                results[name] = figures = run_scan(
                    root / name, backlog, jobs, template=template, planted=planted
                )
            else:
                (root / name / "ray").mkdir()
                head_cpus = jobs - (nodes - 1)
                started = time.perf_counter()
                with RayCluster(root / name / "ray", head_cpus=head_cpus) as cluster:
                    for _ in range(nodes - 1):
                        cluster.add_node()
                    up = time.perf_counter() - started
                    print(f"{name}: cluster of {nodes} node(s), {jobs} CPUs, up in {up:.1f} s")
                    results[name] = figures = run_scan(
                        root / name,
                        backlog,
                        jobs,
                        "--ray",
                        cluster.address,
                        ray_env=cluster.ray_env,
                        template=template,
                        planted=planted,
                        cluster=cluster,
                    )
            assert figures.decided == count, figures
            print(
                f"scan {name:<11} {figures.steady_rate:8.1f} items/s steady, "
                f"{count / figures.wall_s:6.1f} end to end ({figures.wall_s:.1f} s), "
                f"{figures.cpu_per_item_ms:.1f} ms CPU per item; load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            if nodes:
                both = (figures.cpu_per_item_ms * count / 1000 + figures.cluster_cpu_s) / count
                print(
                    f"  the cluster's processes: {figures.cluster_cpu_s:.1f} CPU-s during the scan; "
                    f"command + cluster {both * 1000:.1f} ms CPU per item",
                    flush=True,
                )
                figures = results[name] = Figures(
                    figures.wall_s,
                    figures.steady_rate,
                    both * 1000,
                    figures.decided,
                    figures.rerun_wall_s,
                    figures.rerun_cpu_s,
                    figures.cluster_cpu_s,
                    figures.cpu_by_kind,
                )
            kinds = sorted(figures.cpu_by_kind.items(), key=lambda kind: -kind[1])
            print(
                "  CPU per file by process: "
                + ", ".join(f"{kind} {cpu / count * 1000:.2f} ms" for kind, cpu in kinds),
                flush=True,
            )
            beyond = (
                f"beyond it {figures.marginal_cpu_ms():.1f} ms CPU per item"
                if name == "local"
                else "the nodes' CPU is not the command's (separate processes)"
            )
            print(
                f"  re-run, all skipped: {figures.rerun_wall_s:.1f} s, "
                f"{figures.rerun_cpu_s:.1f} CPU-s (start-up and listing); {beyond}",
                flush=True,
            )
        ray_modes = [name for name in results if name != "local"]
        if ray_modes:
            project(results[ray_modes[-1]], ray_modes[-1], count, write_rates(root))
        if "local" not in results:
            return
        local = results["local"].steady_rate
        local_end = count / results["local"].wall_s
        for name in ray_modes:
            print(f"{name} / local steady rate: {results[name].steady_rate / local:.2f}")
            print(f"{name} / local end to end: {count / results[name].wall_s / local_end:.2f}")
            ratio = results["local"].cpu_per_item_ms / results[name].cpu_per_item_ms
            print(
                f"{name} / local items per CPU-second (command and cluster): {ratio:.2f} "
                "(the throughput ratio on cores given to the scan alone)"
            )
        if "ray-2-nodes" in results:
            two = results["ray-2-nodes"].steady_rate
            print(
                f"scan: tutela ray-2-nodes {two:.1f} items/s vs local {local:.1f} items/s = "
                f"{two / local:.2f}× steady; end to end "
                f"{count / results['ray-2-nodes'].wall_s:.1f} vs {local_end:.1f} = "
                f"{count / results['ray-2-nodes'].wall_s / local_end:.2f}×"
            )


# The machines and cores of the projection (issue 18: "scaling to 100 machines").
PROJECT_MACHINES = 100
PROJECT_CORES = 16


def project(figures: Figures, name: str, count: int, rates: dict[str, float]) -> None:
    """Files per second on PROJECT_MACHINES machines of PROJECT_CORES cores, from the CPU per
    file measured here: the nodes' (hashing processes, Ray workers, raylet and the rest: it
    grows with the machines), the driver's beyond its start-up and listing (the CPU of the re-run
    that skipped every file: one process, it does not grow), and the database work's rate
    (bench/scan_writes.py; on SQLite it is done in the driver's process, so the two bounds
    overlap)."""
    driver_kinds = {"tutela scan (driver)"}
    node_s = sum(c for k, c in figures.cpu_by_kind.items() if k not in driver_kinds) / count
    driver_cpu = sum(c for k, c in figures.cpu_by_kind.items() if k in driver_kinds)
    driver_s = max(driver_cpu - figures.rerun_cpu_s, 0.0) / count
    cores = PROJECT_MACHINES * PROJECT_CORES
    print(
        f"projection from {name}: nodes {node_s * 1000:.2f} ms CPU per file, the driver "
        f"{driver_s * 1000:.2f} ms beyond start-up and listing; the driver's database work "
        + ", ".join(f"{db} {rate:,.0f} files/s" for db, rate in rates.items())
    )
    bounds = {
        f"hashing on {PROJECT_MACHINES}×{PROJECT_CORES} cores": cores / node_s,
        "one driver's core": 1 / driver_s if driver_s else float("inf"),
    }
    for db, rate in rates.items():
        limits = {**bounds, f"{db} writes": rate}
        bound = min(limits, key=lambda limit: limits[limit])
        print(
            f"  {PROJECT_MACHINES} machines on {db}: {limits[bound]:,.0f} files/s, bound by "
            f"{bound} (" + ", ".join(f"{k} {v:,.0f}/s" for k, v in limits.items()) + ")"
        )


if __name__ == "__main__":
    main()
