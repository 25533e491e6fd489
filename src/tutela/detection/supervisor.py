"""Keeps N detection worker processes alive next to the API: a worker that dies is replaced,
and whatever it held comes back to the queue when its lease runs out."""

from __future__ import annotations

import logging
import multiprocessing as mp
import signal
import threading
from multiprocessing.process import BaseProcess
from types import FrameType

from tutela.detection.worker import run_worker
from tutela.settings import Settings

log = logging.getLogger("tutela.supervisor")
CHECK_EVERY_S = 0.5


def _worker_process(settings: Settings, hash_workers: int) -> None:
    stop = threading.Event()

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    run_worker(settings, hash_workers=hash_workers, stop=stop)


class WorkerSupervisor:
    def __init__(self, settings: Settings, *, count: int, hash_workers: int) -> None:
        self._settings = settings
        self._count = count
        self._hash_workers = hash_workers
        self._context = mp.get_context("spawn")
        self._processes: list[BaseProcess] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)

    def start(self) -> None:
        self._processes = [self._spawn() for _ in range(self._count)]
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()

    def _spawn(self) -> BaseProcess:
        process = self._context.Process(
            target=_worker_process,
            args=(self._settings, self._hash_workers),
            name="tutela-worker",
        )
        process.start()
        log.warning("detection worker started pid=%s", process.pid)
        return process

    def _watch(self) -> None:
        while not self._stop.wait(CHECK_EVERY_S):
            for index, process in enumerate(self._processes):
                if not process.is_alive() and not self._stop.is_set():
                    log.warning(
                        "detection worker pid=%s exited (%s); replacing it",
                        process.pid,
                        process.exitcode,
                    )
                    process.join()
                    self._processes[index] = self._spawn()
