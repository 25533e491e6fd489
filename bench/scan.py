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
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import numpy as np

from provider_fixtures import TUTELA, drawn_image, jpeg, make_bank
from ray_cluster import RayCluster
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

    def marginal_cpu_ms(self) -> float:
        """CPU per item beyond what start-up and listing cost."""
        total = self.cpu_per_item_ms * self.decided / 1000
        return (total - self.rerun_cpu_s) / self.decided * 1000


def run(command: list[str], env: dict[str, str], root: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds of the command's whole process tree."""
    started = time.perf_counter()
    with open(root / "out.jsonl", "wb") as out, open(root / "err.txt", "wb") as err:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{command} failed: {(root / 'err.txt').read_text()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


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
    wall, cpu = run(command, env, root)
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
    rerun_wall, rerun_cpu = run(command, env, root)
    summary = json.loads((root / "out.jsonl").read_text().splitlines()[-1])
    assert summary["skipped"] == files, summary
    span = (last - first).total_seconds() if first and last else 0.0
    steady = (count - 1) / span if span else 0.0
    return Figures(wall, steady, cpu / count * 1000, count, rerun_wall, rerun_cpu, cluster_cpu)


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
        if "local" not in results:
            return
        local = results["local"].steady_rate
        for name in results.keys() - {"local"}:
            print(f"{name} / local steady rate: {results[name].steady_rate / local:.2f}")
            ratio = results["local"].cpu_per_item_ms / results[name].cpu_per_item_ms
            print(
                f"{name} / local items per CPU-second (command and cluster): {ratio:.2f} "
                "(the throughput ratio on cores given to the scan alone)"
            )
        if "ray-2-nodes" in results:
            two = results["ray-2-nodes"].steady_rate
            print(
                f"scan: tutela ray-2-nodes {two:.1f} items/s vs local {local:.1f} items/s = "
                f"{two / local:.2f}×"
            )


if __name__ == "__main__":
    main()
