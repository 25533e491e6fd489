"""Deciding queued video uploads in a test, as a detection worker's video thread does (one pass
over the claimable video jobs, in one of the node's slots). Not a test module."""

from __future__ import annotations

from tutela.db.database import Database
from tutela.detection.bases import DetectionGate
from tutela.detection.video_queue import VideoHashing
from tutela.indicators.matcher import Matcher
from tutela.settings import Settings


def video_hashing(settings: Settings, database: Database, worker: str = "test") -> VideoHashing:
    matcher = Matcher(database)
    matcher.load()
    return VideoHashing(
        database,
        matcher,
        data_dir=settings.data_dir,
        limits=settings.media,
        slots=settings.video_workers,
        worker=worker,
        lease_s=settings.job_lease_s,
        gate=DetectionGate(database),
    )


def decide_videos(settings: Settings, database: Database) -> int:
    """Decide every video job claimable now; how many were decided."""
    hashing = video_hashing(settings, database)
    hashing.work_once()
    return hashing.decided


def run_worker_process(settings: Settings) -> None:
    """A detection worker, as `tutela worker` runs it (the target of a spawned test process)."""
    from tutela.detection.worker import run_worker

    run_worker(settings, hash_workers=1)
