"""The durable job queue in the database: enqueue, claim with a lease, finish, count.

A claim is one short writing transaction. PostgreSQL locks the chosen rows with
`FOR UPDATE SKIP LOCKED`, so concurrent workers take different jobs without waiting; SQLite has a
single writer (`BEGIN IMMEDIATE`, see tutela.db.engine), so its `UPDATE … RETURNING` is atomic as is.
A job whose lease has run out (its worker died) is claimable again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from tutela.db.database import Database
from tutela.db.types import utc_now
from tutela.detection.models import Item, Job

QUEUED = "queued"
LEASED = "leased"


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    job_id: int
    item_id: int
    attempts: int


def enqueue(session: Session, item_id: int) -> None:
    """Add a job for `item_id` inside the caller's transaction."""
    session.add(Job(item_id=item_id, state=QUEUED, attempts=0, created_at=utc_now()))


def claim_jobs(database: Database, worker: str, limit: int, lease_s: float) -> list[ClaimedJob]:
    """Lease up to `limit` jobs to `worker` for `lease_s` seconds; oldest first."""
    now = utc_now()
    claimable = (
        select(Job.id)
        .where(or_(Job.state == QUEUED, Job.leased_until < now))
        .order_by(Job.id)
        .limit(limit)
    )
    with database.unit_of_work() as session:
        if database.dialect == "postgresql":
            claimable = claimable.with_for_update(skip_locked=True)
        rows = session.execute(
            update(Job)
            .where(Job.id.in_(claimable.scalar_subquery()))
            .values(
                state=LEASED,
                leased_by=worker,
                leased_until=now + timedelta(seconds=lease_s),
                attempts=Job.attempts + 1,
            )
            .returning(Job.id, Job.item_id, Job.attempts)
            .execution_options(synchronize_session=False)
        ).all()
        claimed = [ClaimedJob(job_id=r[0], item_id=r[1], attempts=r[2]) for r in rows]
        if claimed:
            session.execute(
                update(Item)
                .where(Item.id.in_([c.item_id for c in claimed]), Item.status != "done")
                .values(status="processing")
                .execution_options(synchronize_session=False)
            )
    return sorted(claimed, key=lambda c: c.job_id)


def finish_job(session: Session, item_id: int) -> None:
    """Remove the item's job inside the transaction that records its outcome."""
    session.execute(delete(Job).where(Job.item_id == item_id))


def queue_depth(database: Database) -> int:
    with database.reader() as session:
        return int(session.scalar(select(func.count()).select_from(Job)) or 0)
