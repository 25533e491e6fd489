"""A detection worker process: claims jobs, decides them, sends the webhook outbox, repeats.

Hashing and recording overlap: while batch k's verdicts are written (one transaction, on the
recorder thread), batch k+1 is already being hashed. A lease keeper thread renews the leases of
every job the worker holds, so a slow batch is not reclaimed by another worker while this one lives;
if the process dies the renewals stop and its jobs come back to the queue when their leases run out.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Self

import httpx

from tutela.db.database import Database, open_database
from tutela.detection.deliveries import deliver_due
from tutela.detection.hasher import Hasher
from tutela.detection.pipeline import decide
from tutela.detection.queue import claim_jobs, renew_leases
from tutela.detection.verdicts import Outcome, record_outcomes
from tutela.indicators.matcher import Matcher
from tutela.settings import Settings

IDLE_POLL_S = 0.05
# Jobs per claim for each hashing sub-worker: enough to keep them busy and to spread a
# transaction's cost over many verdicts, few enough that a crash leaves little to reclaim.
JOBS_PER_HASHER = 16
# Leases are renewed this many times per lease period, so that one late renewal does not lose them.
RENEWALS_PER_LEASE = 3


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class LeaseKeeper:
    """A thread renewing the leases of every job `worker` holds, every `lease_s / 3` seconds."""

    def __init__(self, database: Database, worker: str, lease_s: float) -> None:
        self._database = database
        self._worker = worker
        self._lease_s = lease_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._lease_s / RENEWALS_PER_LEASE):
            renew_leases(self._database, self._worker, self._lease_s)


class Recorder:
    """Records one batch of outcomes at a time on its own thread; `submit` waits for the batch
    before, so at most one batch is being recorded while the next is hashed. A failure to record
    is raised in the submitting thread (at the next `submit` or at exit), which ends the worker."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="recorder")
        self._pending: Future[list[int]] | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if exc is None:
                self.wait()
        finally:
            self._executor.shutdown(wait=True)

    def submit(self, outcomes: Sequence[tuple[int, Outcome]]) -> None:
        self.wait()
        self._pending = self._executor.submit(record_outcomes, self._database, outcomes)

    def wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()


def run_worker(
    settings: Settings,
    *,
    hash_workers: int = 1,
    stop: threading.Event | None = None,
    database: Database | None = None,
    client: httpx.Client | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Work until `stop` is set (forever when None). Used by `tutela worker` and `tutela serve`.

    `on_ready` is called once the hashing processes have started and jobs are being taken.
    """
    stop = stop or threading.Event()
    owned = database is None
    database = database or open_database(settings)
    client = client or httpx.Client()
    name = worker_name()
    matcher = Matcher(database)
    matcher.load()
    lease_s = settings.job_lease_s
    try:
        with (
            Hasher(settings.media, workers=hash_workers) as hasher,
            LeaseKeeper(database, name, lease_s),
            Recorder(database) as recorder,
        ):
            if on_ready is not None:
                on_ready()
            while not stop.is_set():
                claimed = claim_jobs(database, name, hash_workers * JOBS_PER_HASHER, lease_s)
                if claimed:
                    recorder.submit(decide(database, hasher, matcher, claimed))
                else:
                    recorder.wait()
                sent = deliver_due(database, client)
                if not claimed and not sent:
                    stop.wait(IDLE_POLL_S)
    finally:
        client.close()
        if owned:
            database.close()
