"""The job queue's leases: a live worker keeps its jobs by renewing them, a dead one's jobs come
back, and a job claimed too often ends with the `unprocessable` error instead of another try."""

from __future__ import annotations

import time
from datetime import timedelta

from provider_fixtures import run_pipeline
from tutela.db.database import Database
from tutela.db.types import utc_now
from tutela.detection.items import accept_signals, get_item
from tutela.detection.pipeline import MAX_JOB_ATTEMPTS
from tutela.detection.queue import claim_jobs, renew_leases
from tutela.detection.worker import LeaseKeeper
from tutela.errors import Unprocessable

MD5 = "5d41402abc4b2a76b9719d911017c592"


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
    claim_jobs(database, "busy", 10, lease_s=0.6)
    with LeaseKeeper(database, "busy", 0.6):
        time.sleep(1.5)  # two and a half leases: reclaimable by now without the keeper
        assert claim_jobs(database, "other", 10, lease_s=0.6) == []


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
