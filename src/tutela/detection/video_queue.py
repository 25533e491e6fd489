"""Video uploads through the durable queue: spooled on the node's disk, hashed by the detection
workers, a bounded number at once per node.

**Accepting.** `POST /v1/items` streams a video to the spool (tutela.api.spooled_uploads); the
file is made durable (fsync) and moved to `DATA_DIR/spool/videos/` (`keep_for_workers`), and the
item is stored queued with a job that names that file (`jobs.spool_path`, relative to the data
directory). The upload is answered then, 202, before any hashing.

**Hashing.** A worker's `VideoHashing` thread takes one of the node's `TUTELA_VIDEO_WORKERS`
slots (a lock file each, `DATA_DIR/spool/slots/`, shared by every worker process of the node),
claims a video job, hashes the file in an isolated process (its memory cap, and
`TUTELA_VIDEO_TIMEOUT_S` as its time limit), matches it and records the verdict; a verdict that
opens a case holds the file for its review (sealed as a stream, `held_payloads.hold_video`) in
the same transaction, and the review preserves it in the evidence vault. The file is
removed only after that transaction committed: a worker killed at any point before leaves the
job and the file, and the job's lease running out gives it to another worker, which hashes the
video again. Nothing accepted is lost. The process is kept while more video jobs come, and ends
with the slot. A file left by an upload whose transaction never committed (the API died in
between) is removed by `sweep_orphans` once no job names it.

A worker that does not see a job's file (another machine, with a data directory of its own)
hands the job back without counting an attempt, for a worker of the node that spooled it.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.detection.bases import DetectionGate, service_of
from tutela.detection.held_payloads import hold_video
from tutela.detection.models import Case, Item, Job, JobState
from tutela.detection.queue import ClaimedJob, claim_jobs
from tutela.detection.verdicts import Outcome, gated, not_under_order, write_outcomes
from tutela.detection.video_items import hash_video_task, video_outcome
from tutela.errors import TutelaError, Unprocessable
from tutela.indicators.matcher import Matcher
from tutela.master_key import MasterKey
from tutela.media.isolation import IsolatedPool
from tutela.media.limits import MediaLimits
from tutela.settings import SPOOL_DIRECTORY
from tutela.signals.hashing import MediaSignals

# Where queued videos wait, and the slots' lock files, relative to the data directory.
QUEUE_DIRECTORY = f"{SPOOL_DIRECTORY}/videos"
SLOTS_DIRECTORY = "spool/slots"
# A job is given up after this many claims (its video kills every worker that tries it).
MAX_VIDEO_ATTEMPTS = 5
# A job whose file this worker cannot see is handed back for this long.
HAND_BACK_S = 5.0
# A file no job names is an orphan once this old (an upload between its move and its commit is
# younger than that).
ORPHAN_AFTER_S = 3600.0
IDLE_POLL_S = 0.1
IDLE_POLL_MAX_S = 1.0
log = logging.getLogger("tutela.worker")


def keep_for_workers(path: Path, data_dir: Path) -> str:
    """Make the spooled file durable and move it into the queue directory; its path relative to
    `data_dir`, for the item's job."""
    directory = data_dir / QUEUE_DIRECTORY
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with path.open("rb+") as file:
        os.fsync(file.fileno())
    target = directory / f"{uuid.uuid4().hex}.video"
    os.replace(path, target)
    _fsync_directory(directory)
    return str(target.relative_to(data_dir))


def remove_spooled(data_dir: Path, relative: str) -> None:
    """Remove a queued video's file (gone already is fine)."""
    with contextlib.suppress(FileNotFoundError):
        (data_dir / relative).unlink()


def sweep_orphans(
    database: Database, data_dir: Path, *, older_than_s: float = ORPHAN_AFTER_S
) -> int:
    """Remove queued files no job names any more (their upload never committed, or a worker
    died between a verdict's commit and the removal); return how many."""
    directory = data_dir / QUEUE_DIRECTORY
    if not directory.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    candidates = {
        str(path.relative_to(data_dir)): path
        for path in directory.glob("*.video")
        if _mtime(path) < cutoff
    }
    if not candidates:
        return 0
    with database.reader() as session:
        named = set(
            session.scalars(select(Job.spool_path).where(Job.spool_path.in_(list(candidates))))
        )
    removed = 0
    for relative, path in candidates.items():
        if relative not in named:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
    return removed


class NodeSlots:
    """`count` slots shared by every process of the node through lock files in `directory`:
    a slot is held while its file is locked (flock), and freed when its holder ends however it
    ends."""

    def __init__(self, directory: Path, count: int) -> None:
        self._directory = directory
        self._count = max(1, count)

    def try_acquire(self) -> IO[bytes] | None:
        """A held slot (close it to free it), or None when all are taken."""
        self._directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for number in range(self._count):
            file = (self._directory / f"slot-{number}.lock").open("ab")
            try:
                fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                file.close()
                continue
            return file
        return None


def hand_back(database: Database, job: ClaimedJob, worker: str, *, after_s: float) -> None:
    """Give a claimed job up without it counting as an attempt: claimable again in `after_s`."""
    with database.unit_of_work() as session:
        session.execute(
            update(Job)
            .where(Job.id == job.job_id, Job.leased_by == worker)
            .values(
                state=JobState.LEASED,
                leased_by=None,
                leased_until=utc_now() + timedelta(seconds=after_s),
                attempts=Job.attempts - 1,
            )
            .execution_options(synchronize_session=False)
        )


Hash = Callable[[Path], MediaSignals | TutelaError]


def decide_video_job(
    database: Database,
    matcher: Matcher,
    job: ClaimedJob,
    hash_file: Hash,
    *,
    data_dir: Path,
    worker: str,
    gate: DetectionGate,
    master_key: MasterKey | None = None,
) -> bool:
    """Hash a claimed video job's file (`hash_file`), match it and record the verdict, then
    remove the file; False when the file is not on this node (the job is handed back)."""
    assert job.spool_path is not None
    path = data_dir / job.spool_path
    with database.reader() as session:
        meta = session.scalar(select(Item.meta).where(Item.id == job.item_id))
    if job.attempts > MAX_VIDEO_ATTEMPTS:
        error = Unprocessable(f"processing failed {MAX_VIDEO_ATTEMPTS} times")
        outcome = Outcome(None, [], error.as_dict())
    elif (decision := gate.decide(service_of(meta))) is None:
        outcome = not_under_order()  # Art 7-11: nothing is hashed
    elif not path.exists():
        log.warning("video job %s: its file is not in this node's spool; handed back", job.job_id)
        hand_back(database, job, worker, after_s=HAND_BACK_S)
        return False
    else:
        outcome = gated(video_outcome(matcher, hash_file(path)), decision)
    with database.unit_of_work() as session:
        decided = write_outcomes(
            session, [(job.item_id, outcome)], utc_now(), master_key=master_key
        )
        if decided and path.exists() and _opened_case(session, job.item_id):
            # Held for its review in the verdict's own transaction: the file is in the spool
            # until this commits, and in the database once it has (nothing lost in between).
            hold_video(session, job.item_id, path, master_key)
    remove_spooled(data_dir, job.spool_path)  # only now: the verdict is committed
    return True


def _opened_case(session: Session, item_id: int) -> bool:
    return session.scalar(select(Case.id).where(Case.item_id == item_id).limit(1)) is not None


class VideoHashing:
    """A worker's thread for video jobs: while it holds one of the node's slots, it claims video
    jobs one at a time and decides them with one isolated hashing process, kept while more come."""

    def __init__(
        self,
        database: Database,
        matcher: Matcher,
        *,
        data_dir: Path,
        limits: MediaLimits,
        slots: int,
        worker: str,
        lease_s: float,
        gate: DetectionGate,
        master_key: MasterKey | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self._database = database
        self._matcher = matcher
        self._data_dir = data_dir
        self._limits = limits
        self._slots = NodeSlots(data_dir / SLOTS_DIRECTORY, slots)
        self._worker = worker
        self._lease_s = lease_s
        self._gate = gate
        self._master_key = master_key
        self._stop = stop or threading.Event()
        self._thread = threading.Thread(target=self._run, name="video-hashing", daemon=True)
        self.decided = 0

    def __enter__(self) -> Self:
        sweep_orphans(self._database, self._data_dir)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        waits = _idle_waits()
        while not self._stop.is_set():
            try:
                worked = self.work_once()
            except Exception:  # the database went away for a moment: the lease keeps the job
                log.exception("hashing videos failed; retrying")
                worked = False
            if worked:
                waits = _idle_waits()
            else:
                self._stop.wait(next(waits))

    def _claim(self) -> ClaimedJob | None:
        if self._stop.is_set():
            return None
        claimed = claim_jobs(self._database, self._worker, 1, self._lease_s, videos=True)
        return claimed[0] if claimed else None

    def work_once(self) -> bool:
        """With a slot of the node, decide video jobs until none is claimable; whether there was
        one (False too when every slot was taken)."""
        slot = self._slots.try_acquire()
        if slot is None:
            return False
        with slot:
            job = self._claim()
            if job is None:
                return False
            with _video_pool(self._limits) as pool:
                while job is not None:
                    if decide_video_job(
                        self._database,
                        self._matcher,
                        job,
                        functools.partial(_hash_in, pool),
                        data_dir=self._data_dir,
                        worker=self._worker,
                        gate=self._gate,
                        master_key=self._master_key,
                    ):
                        self.decided += 1
                    job = self._claim()
        return True


def _video_pool(limits: MediaLimits) -> IsolatedPool[str, MediaSignals]:
    return IsolatedPool(
        functools.partial(hash_video_task, limits=limits),
        workers=1,
        limits=limits,
        timeout_of=lambda _: limits.video_timeout_s,
    )


def _hash_in(pool: IsolatedPool[str, MediaSignals], path: Path) -> MediaSignals | TutelaError:
    for _, result in pool.map_unordered([str(path)]):
        return result
    return Unprocessable("the video's hashing process gave no answer")


def _idle_waits() -> Iterator[float]:
    wait = IDLE_POLL_S
    while True:
        yield wait
        wait = min(2 * wait, IDLE_POLL_MAX_S)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
