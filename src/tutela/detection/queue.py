"""The durable job queue in the database: enqueue, claim with a lease, renew, finish, count.

A claim is one short writing transaction. PostgreSQL locks the chosen rows with
`FOR UPDATE SKIP LOCKED`, so concurrent workers take different jobs without waiting; SQLite has a
single writer (`BEGIN IMMEDIATE`, see tutela.db.engine), so its `UPDATE … RETURNING` is atomic as is.
A job whose lease has run out (its worker died) is claimable again; a live worker renews the leases
of the jobs it holds (`renew_leases`), so a slow batch is never taken from it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.detection.models import Item, ItemStatus, Job, JobState


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    job_id: int
    item_id: int
    attempts: int
    # A video's spooled file, relative to the data directory (claimed with `videos=True` only).
    spool_path: str | None = None


def enqueue(session: Session, item_id: int) -> None:
    """Add a job for `item_id` inside the caller's transaction."""
    session.add(Job(item_id=item_id, state=JobState.QUEUED, attempts=0, created_at=utc_now()))


def claim_jobs(
    database: Database,
    worker: str,
    limit: int,
    lease_s: float,
    *,
    now: datetime | None = None,
    videos: bool = False,
) -> list[ClaimedJob]:
    """Lease up to `limit` jobs to `worker` for `lease_s` seconds; oldest first. `videos`: the
    jobs of spooled video files (tutela.detection.video_queue) instead of every other job."""
    now = now or utc_now()
    wanted = _claimable(now, videos=videos)
    # A read first: an idle worker polling an empty queue must not take the single SQLite write
    # lock that every upload needs.
    with database.reader() as session:
        if session.scalar(select(Job.id).where(wanted).limit(1)) is None:
            return []
    claimable = select(Job.id).where(wanted).order_by(Job.id).limit(limit)
    with database.unit_of_work() as session:
        if database.dialect == "postgresql":
            claimable = claimable.with_for_update(skip_locked=True)
        rows = session.execute(
            update(Job)
            .where(Job.id.in_(claimable.scalar_subquery()))
            .values(
                state=JobState.LEASED,
                leased_by=worker,
                leased_until=now + timedelta(seconds=lease_s),
                attempts=Job.attempts + 1,
            )
            .returning(Job.id, Job.item_id, Job.attempts, Job.spool_path)
            .execution_options(synchronize_session=False)
        ).all()
        claimed = [ClaimedJob(r[0], r[1], r[2], r[3]) for r in rows]
        if claimed:
            session.execute(
                update(Item)
                .where(Item.id.in_([c.item_id for c in claimed]), Item.status != ItemStatus.DONE)
                .values(status=ItemStatus.PROCESSING)
                .execution_options(synchronize_session=False)
            )
    return sorted(claimed, key=lambda c: c.job_id)


def renew_leases(
    database: Database, worker: str, lease_s: float, *, now: datetime | None = None
) -> int:
    """Extend the lease of every job `worker` still holds; return how many.

    A job whose lease ran out and that another worker claimed is no longer this worker's and is
    left alone: that worker's verdict or this one's wins, never both (see tutela.detection.verdicts).
    """
    now = now or utc_now()
    with database.unit_of_work() as session:
        result = session.execute(
            update(Job)
            .where(Job.leased_by == worker, Job.state == JobState.LEASED)
            .values(leased_until=now + timedelta(seconds=lease_s))
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)


def finish_jobs(session: Session, item_ids: Collection[int]) -> None:
    """Remove the items' jobs inside the transaction that records their outcomes."""
    if item_ids:
        session.execute(
            delete(Job)
            .where(Job.item_id.in_(list(item_ids)))
            .execution_options(synchronize_session=False)
        )


def queue_depth(database: Database) -> int:
    with database.reader() as session:
        return int(session.scalar(select(func.count()).select_from(Job)) or 0)


def _claimable(now: datetime, *, videos: bool) -> ColumnElement[bool]:
    kind = Job.spool_path.is_not(None) if videos else Job.spool_path.is_(None)
    return and_(kind, or_(Job.state == JobState.QUEUED, Job.leased_until < now))
