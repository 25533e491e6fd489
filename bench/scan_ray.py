"""Items per second of `tutela scan` on the local cores against `tutela scan --ray` (a Ray instance
started on this machine with the same number of CPUs), over the same directory of drawn JPEGs, each
with a fresh SQLite database holding a small bank; and raw hashing of the same files as the floor.

    python bench/scan_ray.py [N]      (default 500 files of 640×640; BENCH_JOBS, default 2)

Per mode four figures: the command's wall time end to end (start-up included: Ray's is long),
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
from tutela.db.database import open_database
from tutela.detection.hasher import Hasher
from tutela.detection.models import DONE, Item
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


def run_scan(root: Path, backlog: Path, jobs: int, *ray: str) -> Figures:
    settings = Settings(data_dir=root / "data")
    database = open_database(settings)
    make_bank(database, "known", [drawn_image(i) for i in range(20)])
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTELA_")}
    env |= {"TUTELA_DATA_DIR": str(settings.data_dir), "RAY_TMPDIR": str(root / "ray")}
    (root / "ray").mkdir()
    command = [TUTELA, "scan", "--json", f"--jobs={jobs}", *ray, str(backlog)]
    wall, cpu = run(command, env, root)
    rerun_wall, rerun_cpu = run(command, env, root)
    with database.reader() as session:
        first, last, count = session.execute(
            select(func.min(Item.decided_at), func.max(Item.decided_at), func.count()).where(
                Item.status == DONE
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
        for name, extra in (("local", ()), ("ray", ("--ray",))):
            (root / name).mkdir()
            results[name] = figures = run_scan(root / name, backlog, jobs, *extra)
            assert figures.decided == count, figures
            print(
                f"scan {name:<11} {figures.steady_rate:8.1f} items/s steady, "
                f"{count / figures.wall_s:6.1f} end to end ({figures.wall_s:.1f} s), "
                f"{figures.cpu_per_item_ms:.1f} ms CPU per item"
            )
            beyond = (
                f"beyond it {figures.marginal_cpu_ms():.1f} ms CPU per item"
                if name == "local"
                else "Ray workers' CPU is partly uncounted (the raylet reaps them)"
            )
            print(
                f"  re-run, all skipped: {figures.rerun_wall_s:.1f} s, "
                f"{figures.rerun_cpu_s:.1f} CPU-s (start-up and listing); {beyond}"
            )
        ratio = results["ray"].steady_rate / results["local"].steady_rate
        print(f"ray / local steady rate: {ratio:.2f}")


if __name__ == "__main__":
    main()
