"""Node start-up CPU: CPU seconds each kind of Tutela process spends from its start until it is
ready, for this tree against another git revision (in a temporary worktree), in the same run.

The tests start hundreds of these processes, so their start-up CPU is most of what the fast
tier costs. Measured, on SQLite, from a fresh copy of a database at head for every run:
- provider (`tutela serve --workers 1 --hash-workers 1`), centre (`tutela centre serve
  --no-sender`) and authority (`tutela authority serve`): until /healthz (/readyz for the
  provider) answers and the process tree has gone quiet (its workers and hashing processes
  started), summing the CPU of every process of the tree;
- worker (`tutela worker --hash-workers 1`): until the tree has a hashing process and is quiet;
- commands, to their exit: `db upgrade` (already at head), `bank list`, `hash` of one photo,
  `scan` of the test photos against a bank of one.
"Quiet" means under 0.03 CPU-s in 1 s, so each figure includes up to that much idle polling.

Run: `python bench/startup_nodes.py [--against REF] [--runs 5] [--cores 0]`; the sides
alternate run by run and the median of `--runs` is reported, with the ratio against REF.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The shared test data beside the checkout (/work/shared for /work/main), or TUTELA_TESTDATA.
TESTDATA = (
    Path(
        os.environ.get(
            "TUTELA_TESTDATA", Path(__file__).resolve().parents[2] / "shared" / "testdata"
        )
    )
    / "pdq"
)
PHOTO = TESTDATA / "aaa-orig.jpg"
TUTELA = str(Path(sys.executable).parent / "tutela")
TICK = os.sysconf("SC_CLK_TCK")
QUIET_CPU_S = 0.03
QUIET_WINDOW_S = 1.0
READY_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class Side:
    """One version of the code: its sources and a data directory migrated by it."""

    name: str
    src: Path
    template: Path

    def env(self, data_dir: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TUTELA_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as `make test` runs: bytecode cached
        env["PYTHONPATH"] = str(self.src)
        env["TUTELA_DATA_DIR"] = str(data_dir)
        return env


def tree_cpu_s(root: int) -> tuple[float, int]:
    """CPU seconds of `root` and its descendants (with the children they reaped), and how many
    processes the tree has."""
    parents: dict[int, int] = {}
    cpu: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    tree = {root}
    grew = True
    while grew:
        added = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= added
        grew = bool(added)
    return sum(cpu.get(pid, 0) for pid in tree) / TICK, len(tree)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(cores: str, command: list[str]) -> list[str]:
    return ["taskset", "-c", cores, *command]


def node_cpu_s(
    command: list[str], env: dict[str, str], ready: Callable[[int], bool], log: Path
) -> float:
    """Start a long-lived process; CPU of its tree once `ready(pid)` holds and it is quiet."""
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not ready(process.pid):
            if process.poll() is not None:
                raise RuntimeError(f"{command} exited: {log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command} not ready")
            time.sleep(0.05)
        before, _ = tree_cpu_s(process.pid)
        while True:
            time.sleep(QUIET_WINDOW_S)
            after, _ = tree_cpu_s(process.pid)
            if after - before < QUIET_CPU_S:
                return after
            before = after
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def command_cpu_s(command: list[str], env: dict[str, str]) -> float:
    """CPU of a command and everything it waited for, to its exit (which must be 0)."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.returncode != 0:
        raise RuntimeError(f"{command} failed ({process.returncode}): {stderr[-2000:]}")
    return usage.ru_utime + usage.ru_stime


def http_node(args: list[str], path: str) -> Callable[[Side, Path, str], float]:
    def measure(side: Side, data_dir: Path, cores: str) -> float:
        port = free_port()
        url = f"http://127.0.0.1:{port}{path}"
        command = pinned(cores, [TUTELA, *args, "--port", str(port)])
        return node_cpu_s(command, side.env(data_dir), lambda _: answers(url), data_dir / "log")

    return measure


def worker(side: Side, data_dir: Path, cores: str) -> float:
    command = pinned(cores, [TUTELA, "worker", "--hash-workers", "1"])
    # Ready once the worker has started its hashing process (the tree has two processes).
    return node_cpu_s(
        command, side.env(data_dir), lambda pid: tree_cpu_s(pid)[1] >= 2, data_dir / "log"
    )


def cli(*args: str) -> Callable[[Side, Path, str], float]:
    def measure(side: Side, data_dir: Path, cores: str) -> float:
        return command_cpu_s(pinned(cores, [TUTELA, *args]), side.env(data_dir))

    return measure


MEASURES: dict[str, Callable[[Side, Path, str], float]] = {
    "provider": http_node(["serve", "--workers", "1", "--hash-workers", "1"], "/readyz"),
    "centre": http_node(["centre", "serve", "--no-sender"], "/healthz"),
    "authority": http_node(["authority", "serve"], "/healthz"),
    "worker": worker,
    "db upgrade (at head)": cli("db", "upgrade"),
    "bank list": cli("bank", "list"),
    "hash (one photo)": cli("hash", "--json", str(PHOTO)),
    "scan (test photos)": cli("scan", "--json", "--jobs", "1", str(TESTDATA)),
}

AUTHORITY_ENV = {
    "TUTELA_AUTHORITY_NAME": "Bench Authority",
    "TUTELA_AUTHORITY_CONTACT": "orders@authority.example",
    "TUTELA_AUTHORITY_COUNTRY": "NL",
}


def prepare(name: str, src: Path, work: Path) -> Side:
    """A data directory migrated by this side's code, with a bank of one photo to scan against;
    one untimed run of each measure compiles the bytecode."""
    side = Side(name, src, work / f"template-{name}")
    env = side.env(side.template)
    for args in (["db", "upgrade"], ["bank", "create", "bench"], ["bank", "add-media"]):
        extra = ["bench", str(PHOTO)] if args[-1] == "add-media" else []
        subprocess.run([TUTELA, *args, *extra], env=env, check=True, capture_output=True)
    return side


def fresh_copy(side: Side, work: Path) -> Path:
    data_dir = Path(tempfile.mkdtemp(dir=work))
    shutil.copytree(side.template, data_dir, dirs_exist_ok=True)
    return data_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--against", default=None, help="a git revision to compare with")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cores", default="0", help="taskset's CPU list for every process")
    parser.add_argument("--only", nargs="*", default=None, help="measure only these")
    args = parser.parse_args()
    os.environ.update(AUTHORITY_ENV)
    measures = {k: v for k, v in MEASURES.items() if not args.only or k in args.only}
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="startup-nodes-")))
        sides = [prepare("this", REPO / "src", work)]
        if args.against:
            tree = work / "against"
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), args.against],
                check=True,
                capture_output=True,
            )
            stack.callback(
                subprocess.run,
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                check=False,
            )
            sides.append(prepare("against", tree / "src", work))
        print(
            f"node start-up CPU-s, median of {args.runs} (python {sys.version.split()[0]}, "
            f"{os.cpu_count()} cores, pinned to {args.cores}; against {args.against or '-'})"
        )
        totals = {side.name: 0.0 for side in sides}
        for label, measure in measures.items():
            samples: dict[str, list[float]] = {side.name: [] for side in sides}
            for run in range(args.runs + 1):  # the first run of each side is a warm-up
                for side in sides:
                    data_dir = fresh_copy(side, work)
                    cpu = measure(side, data_dir, args.cores)
                    shutil.rmtree(data_dir, ignore_errors=True)
                    if run:
                        samples[side.name].append(cpu)
            medians = {name: statistics.median(values) for name, values in samples.items()}
            for name, value in medians.items():
                totals[name] += value
            line = f"  {label:<22} {medians['this']:6.2f}"
            if "against" in medians:
                line += f"  against {medians['against']:6.2f}  ({medians['against'] / medians['this']:.2f}×)"
            print(line, flush=True)
        line = f"  {'total':<22} {totals['this']:6.2f}"
        if "against" in totals:
            line += (
                f"  against {totals['against']:6.2f}  ({totals['against'] / totals['this']:.2f}×)"
            )
        print(line)


if __name__ == "__main__":
    main()
