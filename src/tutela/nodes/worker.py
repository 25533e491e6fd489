"""The detection worker's composition root (`tutela worker`): a stop on Ctrl-C around
`tutela.detection.worker.run_worker`, which wires its own database, matcher, hashing processes
and webhook client (the workers `tutela serve` supervises run the same function)."""

from __future__ import annotations

import os
import threading

from tutela.detection.worker import run_worker
from tutela.settings import Settings


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity, e.g. a container's cpuset), at least one."""
    return max(1, len(os.sched_getaffinity(0)))


def run_worker_node(settings: Settings, *, hash_workers: int) -> None:
    """Decide queued items until interrupted."""
    stop = threading.Event()
    try:
        run_worker(settings, hash_workers=hash_workers, stop=stop)
    except KeyboardInterrupt:
        stop.set()
