"""Items per second of `tutela scan` on the local cores against `tutela scan --ray` on a Ray
cluster of one node and of two nodes (separate `ray start` processes on this machine, the same
CPUs in all), over the same directory of drawn JPEGs, each with a fresh SQLite database holding a
small bank; and raw hashing of the same files as the floor.

    python bench/scan.py [N]      (default 500 files of 640×640; BENCH_JOBS, default 2)

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
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from provider_fixtures import TUTELA, drawn_image, jpeg, make_bank
from ray_cluster import RayCluster
from tutela.db.database import open_database
from tutela.detection.hasher import Hasher
from tutela.detection.models import Item, ItemStatus
from tutela.media.limits import MediaLimits
from tutela.settings import Settings


@dataclass(frozen=True)
class Figures:
    wall_s: float
    steady_rate: float
    cpu_per_item_ms: float
    decided: int
    # The same command again over the same files, every one skipped: start-up and listing.
    rerun_wall_s: float
    rerun_cpu_s: float

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


def run_scan(
    root: Path, backlog: Path, jobs: int, *ray: str, ray_env: dict[str, str] | None = None
) -> Figures:
    settings = Settings(data_dir=root / "data")
    database = open_database(settings)
    make_bank(database, "known", [drawn_image(i) for i in range(20)])
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTELA_")}
    env |= {"TUTELA_DATA_DIR": str(settings.data_dir), **(ray_env or {})}
    command = [TUTELA, "scan", "--json", f"--jobs={jobs}", *ray, str(backlog)]
    wall, cpu = run(command, env, root)
    rerun_wall, rerun_cpu = run(command, env, root)
    with database.reader() as session:
        first, last, count = session.execute(
            select(func.min(Item.decided_at), func.max(Item.decided_at), func.count()).where(
                Item.status == ItemStatus.DONE
            )
        ).one()
    database.close()
    span = (last - first).total_seconds() if first and last else 0.0
    steady = (count - 1) / span if span else 0.0
    return Figures(wall, steady, cpu / count * 1000, count, rerun_wall, rerun_cpu)


def raw_rate(files: list[bytes], jobs: int) -> float:
    with Hasher(MediaLimits(), workers=jobs) as hasher:
        list(hasher.hash_many(enumerate(files[:20])))  # warm
        started = time.perf_counter()
        list(hasher.hash_many(enumerate(files)))
        return len(files) / (time.perf_counter() - started)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    jobs = int(os.environ.get("BENCH_JOBS", "2"))
    with tempfile.TemporaryDirectory(prefix="scan-ray-") as temp:
        root = Path(temp)
        backlog = root / "backlog"
        backlog.mkdir()
        files = [jpeg(drawn_image(10_000 + i, size=640)) for i in range(count)]
        for i, data in enumerate(files):
            (backlog / f"{i:05}.jpg").write_bytes(data)
        print(f"{count} drawn 640×640 JPEGs, {jobs} CPUs, {os.cpu_count()} cores")
        raw = raw_rate(files, jobs)
        print(
            f"raw hashing      {raw:8.1f} items/s  ({1000 * jobs / raw:.1f} ms CPU-bound per file)"
        )
        results = {}
        for name, nodes in (("local", 0), ("ray-1-node", 1), ("ray-2-nodes", 2)):
            (root / name).mkdir()
            if not nodes:
                results[name] = figures = run_scan(root / name, backlog, jobs)
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
                    )
            assert figures.decided == count, figures
            print(
                f"scan {name:<11} {figures.steady_rate:8.1f} items/s steady, "
                f"{count / figures.wall_s:6.1f} end to end ({figures.wall_s:.1f} s), "
                f"{figures.cpu_per_item_ms:.1f} ms CPU per item"
            )
            beyond = (
                f"beyond it {figures.marginal_cpu_ms():.1f} ms CPU per item"
                if name == "local"
                else "the nodes' CPU is not the command's (separate processes)"
            )
            print(
                f"  re-run, all skipped: {figures.rerun_wall_s:.1f} s, "
                f"{figures.rerun_cpu_s:.1f} CPU-s (start-up and listing); {beyond}"
            )
        local = results["local"].steady_rate
        for name in ("ray-1-node", "ray-2-nodes"):
            print(f"{name} / local steady rate: {results[name].steady_rate / local:.2f}")
        two = results["ray-2-nodes"].steady_rate
        print(
            f"scan: tutela ray-2-nodes {two:.1f} items/s vs local {local:.1f} items/s = {two / local:.2f}×"
        )


if __name__ == "__main__":
    main()
