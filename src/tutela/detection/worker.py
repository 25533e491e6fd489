"""A detection worker process: claims jobs, decides them, sends the webhook outbox, repeats.

Hashing, recording and webhooks overlap: while batch k's verdicts are written (one transaction,
on the recorder thread), the files of batch k+1 are already being hashed (see
tutela.detection.pipeline.decide_stream), and a sender thread posts verdicts to the platform. Spooled
video uploads are hashed on a thread of their own, a bounded number per node at once
(tutela.detection.video_queue). A lease keeper thread renews the leases of
every job the worker holds, so a slow batch is not reclaimed by another worker while this one lives;
if the process dies the renewals stop and its jobs come back to the queue when their leases run out.
Renewals also stop when the worker's loop shows no progress for `stall_limit_s` (it hangs while the
process lives); the process then ends (`end_hung_worker`, exit status 75) for its supervisor, or
the service manager of `tutela worker`, to start a fresh one.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Self

import httpx

from tutela.clock import Clock
from tutela.db.database import Database, open_database
from tutela.detection.bases import DetectionGate
from tutela.detection.deliveries import CLAIM_S, CONCURRENCY, deliver_due, webhook_client
from tutela.detection.hasher import Hasher
from tutela.detection.held_payloads import sealing_key
from tutela.detection.pipeline import decide_stream
from tutela.detection.queue import ClaimedJob, claim_jobs, renew_leases
from tutela.detection.verdicts import Outcome, record_outcomes
from tutela.detection.video_queue import VideoHashing
from tutela.indicators.matcher import Matcher
from tutela.master_key import MasterKey
from tutela.settings import Settings

# An idle worker looks for jobs (and its sender for webhooks) after IDLE_POLL_S, then less and
# less often, up to IDLE_POLL_MAX_S: most uploads are decided by the API as they come in
# (tutela.api.intake), and a worker polling 20 times a second would cost a few percent of a CPU.
IDLE_POLL_S = 0.05
IDLE_POLL_MAX_S = 0.4
SENDER_RETRY_S = 5.0
# Jobs per claim for each hashing sub-worker: enough to keep them busy and to spread a
# transaction's cost over many verdicts, few enough that a crash leaves little to reclaim.
JOBS_PER_HASHER = 16
# Leases are renewed this many times per lease period, so that one late renewal does not lose them.
RENEWALS_PER_LEASE = 3
# Exit status of a worker ended because it hung (EX_TEMPFAIL: starting a fresh one should help).
EXIT_HUNG = 75
log = logging.getLogger("tutela.worker")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class LeaseKeeper:
    """A thread renewing the leases of every job `worker` holds, every `lease_s / 3` seconds, for
    as long as the worker shows progress by calling `heartbeat`.

    A worker whose main loop hangs (stuck in a call while the process lives) would otherwise keep
    its jobs for ever. Once no heartbeat has come for `stall_s`, renewals stop, so its jobs go to
    another worker when their leases run out, and `on_stall` is called once (run_worker ends the
    process there, for the supervisor to replace). Should heartbeats come back, renewals resume
    for whatever jobs the worker still holds.
    """

    def __init__(
        self,
        database: Database,
        worker: str,
        lease_s: float,
        *,
        stall_s: float,
        on_stall: Callable[[], None] | None = None,
    ) -> None:
        self._database = database
        self._worker = worker
        self._lease_s = lease_s
        self._stall_s = stall_s
        self._on_stall = on_stall
        self._last_beat = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)

    def __enter__(self) -> Self:
        self._last_beat = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def heartbeat(self) -> None:
        """The worker made progress (a loop iteration, a hashing result); from any thread."""
        self._last_beat = time.monotonic()

    def _run(self) -> None:
        stalled = False
        while not self._stop.wait(self._lease_s / RENEWALS_PER_LEASE):
            silent_s = time.monotonic() - self._last_beat
            if silent_s < self._stall_s:
                if stalled:
                    log.warning("detection worker %s makes progress again", self._worker)
                    stalled = False
                renew_leases(self._database, self._worker, self._lease_s)
            elif not stalled:
                stalled = True
                log.warning(
                    "detection worker %s made no progress for %.0f s (limit %.0f s): its job "
                    "leases are no longer renewed, so other workers take its jobs once they run out",
                    self._worker,
                    silent_s,
                    self._stall_s,
                )
                if self._on_stall is not None:
                    self._on_stall()


def idle_waits() -> Iterator[float]:
    """Waits between polls that find nothing: IDLE_POLL_S, doubling up to IDLE_POLL_MAX_S."""
    wait = IDLE_POLL_S
    while True:
        yield wait
        wait = min(2 * wait, IDLE_POLL_MAX_S)


def stall_limit_s(lease_s: float, decode_timeout_s: float) -> float:
    """How long a worker may show no progress before it counts as hung: a hashing result comes
    at least once per decode timeout (a hung decode is killed then, and its process replaced),
    so twice that, and never less than one lease."""
    return max(lease_s, 2 * decode_timeout_s)


def end_hung_worker() -> None:
    """End this worker process at once (its main loop is stuck, so it cannot be asked to stop),
    killing its child processes (the hashing processes, which may be stuck in a decode) first: a
    supervisor, or the service manager of `tutela worker`, starts a fresh one. Its jobs come back
    to the queue when their leases run out."""
    log.error("ending hung detection worker pid=%s (exit status %s)", os.getpid(), EXIT_HUNG)
    for child in mp.active_children():
        child.kill()
    os._exit(EXIT_HUNG)


class WebhookSender:
    """A thread sending the webhook outbox (tutela.detection.deliveries), so that a slow receiver
    never holds up hashing; its POSTs go out CONCURRENCY at a time. Polls every IDLE_POLL_S to
    IDLE_POLL_MAX_S while there is nothing to send (see idle_waits). What it claims stays
    claimed `claim_s` seconds (TUTELA_WEBHOOK_CLAIM_S)."""

    def __init__(self, database: Database, client: httpx.Client, claim_s: float = CLAIM_S) -> None:
        self._database = database
        self._client = client
        self._claim_s = claim_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-sender", daemon=True)
        self._pool = ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="webhook-post")

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._pool.shutdown()

    def _run(self) -> None:
        waits = idle_waits()
        while not self._stop.is_set():
            try:
                sent = deliver_due(
                    self._database, self._client, pool=self._pool, claim_s=self._claim_s
                )
            except Exception:  # the database went away for a moment: try again later
                log.exception("sending webhooks failed; retrying in %s s", SENDER_RETRY_S)
                self._stop.wait(SENDER_RETRY_S)
                continue
            if sent:
                waits = idle_waits()
            else:
                self._stop.wait(next(waits))


class Recorder:
    """Records one batch of outcomes at a time on its own thread; `submit` waits for the batch
    before, so at most one batch is being recorded while the next is hashed. A failure to record
    is raised in the submitting thread (at the next `submit` or at exit), which ends the worker.
    Payloads held for review are sealed under `master_key` (None: they stay plaintext)."""

    def __init__(self, database: Database, master_key: MasterKey | None = None) -> None:
        self._database = database
        self._master_key = master_key
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
        self._pending = self._executor.submit(
            record_outcomes, self._database, outcomes, master_key=self._master_key
        )

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
    on_stall: Callable[[], None] | None = None,
    clock: Clock | None = None,
) -> None:
    """Work until `stop` is set (forever when None). Used by `tutela worker` and `tutela serve`.

    Items are matched only under a detection order or voluntary basis in force on `clock`
    (tutela.detection.bases, read again at least once a minute).
    `on_ready` is called once the hashing processes have started and jobs are being taken.
    `on_stall` is called when the loop has made no progress for `stall_limit_s` (see LeaseKeeper);
    by default the process ends (`end_hung_worker`).
    """
    master_key = sealing_key(settings)
    stop = stop or threading.Event()
    owned = database is None
    database = database or open_database(settings)
    # Webhooks go to checked public addresses only, unless the operator allows private ones.
    client = client or webhook_client(allow_private=settings.webhook_allow_private)
    name = worker_name()
    gate = DetectionGate(database, clock)
    matcher = Matcher(database)
    matcher.load()
    lease_s = settings.job_lease_s
    try:
        with (
            # Robust variants are hashed for a batch when a robust bank is enabled as it is claimed.
            Hasher(settings.media, workers=hash_workers) as hasher,
            LeaseKeeper(
                database,
                name,
                lease_s,
                stall_s=stall_limit_s(lease_s, settings.media.decode_timeout_s),
                on_stall=on_stall or end_hung_worker,
            ) as keeper,
            WebhookSender(database, client, settings.webhook_claim_s),
            Recorder(database, master_key) as recorder,
            # Spooled videos, on a thread of their own: a long video never holds up images.
            VideoHashing(
                database,
                matcher,
                data_dir=settings.data_dir,
                limits=settings.media,
                slots=settings.video_workers,
                worker=name,
                lease_s=lease_s,
                gate=gate,
                master_key=master_key,
            ),
        ):
            if on_ready is not None:
                on_ready()

            def claim() -> list[ClaimedJob]:
                keeper.heartbeat()
                if stop.is_set():
                    return []
                return claim_jobs(database, name, hash_workers * JOBS_PER_HASHER, lease_s)

            waits = idle_waits()
            while not stop.is_set():
                claimed = decide_stream(
                    database,
                    hasher,
                    matcher,
                    claim=claim,
                    record=recorder.submit,
                    heartbeat=keeper.heartbeat,
                    gate=gate,
                )
                recorder.wait()
                if claimed:
                    waits = idle_waits()
                else:
                    stop.wait(next(waits))
    finally:
        client.close()
        if owned:
            database.close()
