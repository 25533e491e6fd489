"""A detection worker process: claims jobs, decides them, sends the webhook outbox, repeats."""

from __future__ import annotations

import os
import socket
import threading

import httpx

from tutela.db.database import Database, open_database
from tutela.detection.deliveries import deliver_due
from tutela.detection.hasher import Hasher
from tutela.detection.pipeline import process_batch
from tutela.indicators.matcher import Matcher
from tutela.settings import Settings

IDLE_POLL_S = 0.05
# Jobs per claim for each hashing sub-worker: enough to keep them busy, few enough that a crash
# leaves little to reclaim.
JOBS_PER_HASHER = 16


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_worker(
    settings: Settings,
    *,
    hash_workers: int = 1,
    stop: threading.Event | None = None,
    database: Database | None = None,
    client: httpx.Client | None = None,
) -> None:
    """Work until `stop` is set (forever when None). Used by `tutela worker` and `tutela serve`."""
    stop = stop or threading.Event()
    owned = database is None
    database = database or open_database(settings)
    client = client or httpx.Client()
    name = worker_name()
    matcher = Matcher(database)
    matcher.load()
    try:
        with Hasher(settings.media, workers=hash_workers) as hasher:
            while not stop.is_set():
                claimed = process_batch(
                    database,
                    hasher,
                    matcher,
                    worker=name,
                    limit=hash_workers * JOBS_PER_HASHER,
                    lease_s=settings.job_lease_s,
                )
                sent = deliver_due(database, client)
                if not claimed and not sent:
                    stop.wait(IDLE_POLL_S)
    finally:
        client.close()
        if owned:
            database.close()
