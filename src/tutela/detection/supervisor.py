"""Keeps N detection worker processes alive next to the API: a worker that dies is replaced,
and whatever it held comes back to the queue when its lease runs out.

`start` returns once every worker has its hashing processes running, so that a node reports ready
(`/readyz`) only when it can decide what it accepts, not seconds later.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import threading
import time
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from types import FrameType

from tutela.detection.worker import run_worker
from tutela.settings import Settings

log = logging.getLogger("tutela.supervisor")
CHECK_EVERY_S = 0.5
# Longest wait for the workers to start before serving anyway (a very slow or broken install).
START_TIMEOUT_S = 120.0
# How long a worker whose node died may take to finish its batch before it is ended.
PARENT_GONE_GRACE_S = 10.0


def _worker_process(settings: Settings, hash_workers: int, ready: Event) -> None:
    stop = threading.Event()

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    _stop_when_parent_dies(stop)
    run_worker(settings, hash_workers=hash_workers, stop=stop, on_ready=ready.set)


def _stop_when_parent_dies(stop: threading.Event) -> None:
    """A worker must not outlive its node (kill -9 of `tutela serve` included): it would go on
    polling the database with nobody to supervise it. Stop, and end hard if stopping hangs; jobs
    it held come back to the queue when their lease runs out."""
    parent = mp.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        stop.set()
        time.sleep(PARENT_GONE_GRACE_S)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class WorkerSupervisor:
    def __init__(self, settings: Settings, *, count: int, hash_workers: int) -> None:
        self._settings = settings
        self._count = count
        self._hash_workers = hash_workers
        self._context = mp.get_context("spawn")
        # Each worker with its ready event, kept alive as long as the process: a spawned child
        # unpickles the event after it starts, and fails if the parent has dropped it.
        self._processes: list[tuple[BaseProcess, Event]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)

    def start(self) -> None:
        """Start the workers; return once each has started or died, or after START_TIMEOUT_S."""
        started = [self._spawn() for _ in range(self._count)]
        self._processes = started
        deadline = time.monotonic() + START_TIMEOUT_S
        for process, ready in started:
            while not ready.wait(CHECK_EVERY_S) and process.is_alive():
                if time.monotonic() > deadline:
                    log.warning("detection worker pid=%s is slow to start", process.pid)
                    break
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        for process, _ in self._processes:
            process.terminate()
        for process, _ in self._processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()

    def _spawn(self) -> tuple[BaseProcess, Event]:
        ready = self._context.Event()
        process = self._context.Process(
            target=_worker_process,
            args=(self._settings, self._hash_workers, ready),
            name="tutela-worker",
        )
        process.start()
        log.warning("detection worker started pid=%s", process.pid)
        return process, ready

    def _watch(self) -> None:
        while not self._stop.wait(CHECK_EVERY_S):
            for index, (process, _) in enumerate(self._processes):
                if not process.is_alive() and not self._stop.is_set():
                    log.warning(
                        "detection worker pid=%s exited (%s); replacing it",
                        process.pid,
                        process.exitcode,
                    )
                    process.join()
                    self._processes[index] = self._spawn()
