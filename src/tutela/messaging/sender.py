"""The outbox sender loop that `tutela centre serve`, `tutela serve` and `tutela outbox run`
start: deliver what is due, wait a little when nothing is, and run periodic side tasks (such as
following the centre's indicator feed). A crash anywhere loses nothing: claims run out and the
next sender takes the messages over (DESIGN rule 4)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from tutela.clock import Clock, SystemClock
from tutela.db.advisory_locks import run_alone
from tutela.db.database import Database
from tutela.messaging.outbox import BASE_BACKOFF_S, CLAIM_S, MAX_ATTEMPTS, deliver_due
from tutela.messaging.transports import Transport

log = logging.getLogger("tutela.sender")
BATCH = 50


@dataclass
class PeriodicTask:
    """Work the sender runs every `every_s`. Replicas of a node each run the same tasks: a run
    holds the node-wide lock `lock` (by default the task's name; tutela.db.advisory_locks), and
    a replica that finds it held skips that turn, so no task runs twice at once."""

    name: str
    every_s: float
    run: Callable[[], object]
    due_at: float = 0.0
    lock: str = ""


def run_sender(
    database: Database,
    transports: Mapping[str, Transport],
    stop: threading.Event,
    *,
    interval_s: float = 1.0,
    max_attempts: int = MAX_ATTEMPTS,
    claim_s: float = CLAIM_S,
    backoff_base_s: float = BASE_BACKOFF_S,
    tasks: Sequence[PeriodicTask] = (),
    clock: Clock | None = None,
) -> None:
    """Run until `stop` is set."""
    now = (clock or SystemClock()).now
    while not stop.is_set():
        busy = False
        if transports:
            try:
                run = deliver_due(
                    database,
                    transports,
                    now(),
                    limit=BATCH,
                    max_attempts=max_attempts,
                    claim_s=claim_s,
                    backoff_base_s=backoff_base_s,
                )
                busy = bool(run.delivered or run.retrying or run.failed)
            except Exception:  # the database went away for a moment: try again later
                log.exception("outbox delivery run failed")
        for task in tasks:
            if time.monotonic() >= task.due_at:
                task.due_at = time.monotonic() + task.every_s
                try:
                    with run_alone(database, task.lock or task.name) as mine:
                        if mine:
                            task.run()
                except Exception as error:  # a feed that is down must not stop reports
                    log.warning("periodic task %s failed: %s", task.name, type(error).__name__)
        if not busy:
            stop.wait(interval_s)


def start_sender_thread(
    database: Database,
    transports: Mapping[str, Transport],
    *,
    interval_s: float = 1.0,
    max_attempts: int = MAX_ATTEMPTS,
    claim_s: float = CLAIM_S,
    backoff_base_s: float = BASE_BACKOFF_S,
    tasks: Sequence[PeriodicTask] = (),
) -> Callable[[], None]:
    """Run the sender in a daemon thread; return the function that stops it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_sender,
        args=(database, transports, stop),
        kwargs={
            "interval_s": interval_s,
            "max_attempts": max_attempts,
            "claim_s": claim_s,
            "backoff_base_s": backoff_base_s,
            "tasks": tasks,
        },
        name="tutela-outbox-sender",
        daemon=True,
    )
    thread.start()

    def stop_sender() -> None:
        stop.set()
        thread.join(timeout=30)

    return stop_sender
