"""The job queue's leases: a live worker keeps its jobs by renewing them, a dead or hung one's jobs
come back, and a job claimed too often ends with the `unprocessable` error instead of another
try."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import cast

import pytest

from provider_fixtures import run_pipeline
from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.detection.hasher import Hasher, HashJob, Result
from tutela.detection.items import accept_signals, accept_upload, get_item
from tutela.detection.pipeline import MAX_JOB_ATTEMPTS, Outcomes, decide_stream
from tutela.detection.queue import ClaimedJob, claim_jobs, renew_leases
from tutela.detection.worker import EXIT_HUNG, LeaseKeeper, run_worker
from tutela.errors import CorruptMedia, TutelaError, Unprocessable
from tutela.indicators.matcher import Matcher
from tutela.media.limits import MediaLimits
from tutela.settings import Settings

MD5 = "5d41402abc4b2a76b9719d911017c592"
LEASE_S = 0.6


def queued(database: Database, name: str = "item") -> int:
    return accept_signals(database, name, {"item_id": name}, {"md5": MD5}).id


def test_job_whose_lease_ran_out_is_claimed_by_another_worker(database: Database) -> None:
    item_id = queued(database)
    start = utc_now()
    assert claim_jobs(database, "dead", 10, lease_s=30, now=start)
    assert claim_jobs(database, "other", 10, lease_s=30, now=start + timedelta(seconds=29)) == []
    (job,) = claim_jobs(database, "other", 10, lease_s=30, now=start + timedelta(seconds=31))
    assert (job.item_id, job.attempts) == (item_id, 2)


def test_renewed_lease_is_not_claimed_by_another_worker(database: Database) -> None:
    queued(database)
    start = utc_now()
    claim_jobs(database, "slow", 10, lease_s=30, now=start)
    assert renew_leases(database, "slow", 30, now=start + timedelta(seconds=20)) == 1
    assert claim_jobs(database, "other", 10, lease_s=30, now=start + timedelta(seconds=40)) == []


def test_lease_keeper_renews_the_leases_of_a_running_batch(database: Database) -> None:
    queued(database)
    claim_jobs(database, "busy", 10, lease_s=LEASE_S)
    with LeaseKeeper(database, "busy", LEASE_S, stall_s=60):
        time.sleep(1.5)  # two and a half leases: reclaimable by now without the keeper
        assert claim_jobs(database, "other", 10, lease_s=LEASE_S) == []


def test_lease_keeper_renews_while_heartbeats_come(database: Database) -> None:
    queued(database)
    claim_jobs(database, "busy", 10, lease_s=LEASE_S)
    with LeaseKeeper(database, "busy", LEASE_S, stall_s=LEASE_S) as keeper:
        for _ in range(15):  # 1.5 s of progress, a heartbeat every 0.1 s
            keeper.heartbeat()
            time.sleep(0.1)
        assert claim_jobs(database, "other", 10, lease_s=LEASE_S) == []


def test_lease_keeper_stops_renewing_for_a_hung_worker_so_another_takes_its_jobs(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    item_id = queued(database)
    claim_jobs(database, "hung", 10, lease_s=LEASE_S)
    stalled = threading.Event()
    with LeaseKeeper(database, "hung", LEASE_S, stall_s=LEASE_S, on_stall=stalled.set) as keeper:
        for _ in range(10):  # the main loop makes progress for over a lease...
            keeper.heartbeat()
            time.sleep(0.1)
        assert claim_jobs(database, "other", 10, lease_s=LEASE_S) == []
        # ...then hangs in a call: no more heartbeats, while the process (and keeper) live on.
        assert stalled.wait(10)
        (job,) = claim_once_free(database, "other")
    assert job.item_id == item_id
    assert "detection worker hung made no progress" in caplog.text


def test_hung_worker_loop_is_given_up_and_its_jobs_taken_by_another(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready, hanging, release, stalled, stop = (threading.Event() for _ in range(5))
    refresh = Matcher.refresh

    def hang_then_refresh(matcher: Matcher) -> int:
        # Called once the worker holds its jobs: a call that does not come back.
        hanging.set()
        release.wait(60)
        return refresh(matcher)

    monkeypatch.setattr(Matcher, "refresh", hang_then_refresh)
    short = replace(settings, job_lease_s=LEASE_S, media=MediaLimits(decode_timeout_s=0.1))
    errors: list[BaseException] = []

    def work() -> None:
        try:
            run_worker(
                short, stop=stop, database=database, on_ready=ready.set, on_stall=stalled.set
            )
        except BaseException as error:
            errors.append(error)

    worker = threading.Thread(target=work)
    worker.start()
    try:
        assert ready.wait(60)
        time.sleep(4 * LEASE_S)  # idle, polling: each turn of the loop is progress
        assert not stalled.is_set()
        item_id = queued(database)
        assert hanging.wait(10)
        assert stalled.wait(10)
        (job,) = claim_once_free(database, "other")
        assert job.item_id == item_id
    finally:
        stop.set()
        release.set()
        worker.join(60)
    assert not worker.is_alive()
    assert errors == []


class CountingHasher:
    """Stands in for the hashing pool: every file fails to decode, at once."""

    def __init__(self) -> None:
        self.results = 0

    def hash_many(
        self, tasks: Iterable[HashJob], *, confirm: Callable[[int, Result], bool] | None = None
    ) -> Iterator[tuple[int, TutelaError]]:
        for task in tasks:
            self.results += 1
            yield task.key, CorruptMedia("not an image")


def test_pipeline_beats_the_heart_with_each_hashing_result(database: Database) -> None:
    for n in range(3):
        accept_upload(database, f"upload-{n}", {"item_id": f"upload-{n}"}, b"not an image")
    batches = [claim_jobs(database, "busy", 10, lease_s=60)]
    hasher, beats = CountingHasher(), []
    recorded: list[Outcomes] = []
    decide_stream(
        database,
        cast(Hasher, hasher),
        Matcher(database),
        claim=lambda: batches.pop() if batches else [],
        record=recorded.append,
        heartbeat=lambda: beats.append(hasher.results),
    )
    assert beats == [1, 2, 3]  # one beat as each result came, not one per batch
    assert len(recorded[0]) == 3


def test_ending_a_hung_worker_exits_with_its_status_and_ends_its_hashing_processes(
    tmp_path: Path,
) -> None:
    script = tmp_path / "hung.py"
    script.write_text(
        "import multiprocessing, time\n"
        "if __name__ == '__main__':\n"
        "    from tutela.detection.worker import end_hung_worker\n"
        "    child = multiprocessing.get_context('spawn').Process(target=time.sleep, args=(60,))\n"
        "    child.start()\n"
        "    print(child.pid, flush=True)\n"
        "    end_hung_worker()\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == EXIT_HUNG
    assert "ending hung detection worker" in done.stderr
    child = int(done.stdout.strip())
    deadline = time.monotonic() + 10
    while is_running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not is_running(child)


def claim_once_free(database: Database, worker: str) -> list[ClaimedJob]:
    """Claim as soon as something is claimable (a lease ran out), within a few seconds."""
    deadline = time.monotonic() + 10
    while not (claimed := claim_jobs(database, worker, 10, lease_s=60)):
        assert time.monotonic() < deadline, "the jobs never came back to the queue"
        time.sleep(0.05)
    return claimed


def is_running(pid: int) -> bool:
    """Alive and not a zombie (a killed orphan may wait a while for its reaper)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_job_claimed_too_often_gets_the_unprocessable_error(database: Database) -> None:
    item_id = queued(database, "poison")
    start = utc_now() - timedelta(hours=1)
    for attempt in range(MAX_JOB_ATTEMPTS):
        # Each claim's lease runs out before the next: a worker died on it every time.
        at = start + timedelta(minutes=attempt)
        claim_jobs(database, f"victim-{attempt}", 10, lease_s=1, now=at)
    assert run_pipeline(database) == 1  # the next claim is one too many
    item = get_item(database, item_id)
    assert item.verdict == "error"
    assert item.error is not None and item.error["code"] == Unprocessable.code


def test_stream_records_each_claimed_batch_once_with_every_item(database: Database) -> None:
    """Batches are hashed as one stream (the pool is fed from the next claim before the last
    result of one comes back), yet each batch is recorded alone, once, with all its items."""
    for n in range(7):
        accept_upload(database, f"stream-{n}", {"item_id": f"stream-{n}"}, b"not an image")
    accept_signals(database, "hash-only", {"item_id": "hash-only"}, {"md5": "0" * 32})
    claims: list[list[int]] = []

    def claim() -> list[ClaimedJob]:
        claimed = claim_jobs(database, "streamer", 3, lease_s=60)
        claims.append(sorted(job.item_id for job in claimed))
        return claimed

    recorded: list[list[int]] = []
    count = decide_stream(
        database,
        cast(Hasher, CountingHasher()),
        Matcher(database),
        claim=claim,
        record=lambda outcomes: recorded.append(sorted(item for item, _ in outcomes)),
    )
    assert count == 8 and claims[-1] == []
    assert recorded == claims[:-1]
