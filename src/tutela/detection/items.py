"""Accepting items (uploads and hash-only submissions) and reading them back.

`accept_many` stores a batch of submissions in one transaction (the API's group commit); each is
durable when it returns, and idempotent on the platform's `item_id`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tutela.db.database import Database
from tutela.db.types import utc_now
from tutela.detection.models import Case, Item, ItemMatch, ItemPayload, Job
from tutela.detection.queue import enqueue
from tutela.errors import InvalidInput, NotFound
from tutela.signals.registry import get_signal_type

QUEUED = "queued"
PROCESSING = "processing"
DONE = "done"


@dataclass(frozen=True, slots=True)
class Accepted:
    id: int
    item_id: str
    status: str
    created: bool


@dataclass(frozen=True, slots=True)
class Submission:
    """One item to accept: an upload (`data`) or the signals a platform computed itself."""

    item_id: str
    metadata: Mapping[str, Any]
    data: bytes | None = None
    signals: dict[str, object] | None = None

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else 0


@dataclass(frozen=True, slots=True)
class ItemView:
    id: int
    item_id: str
    status: str
    verdict: str | None
    error: dict[str, str] | None
    matches: list[dict[str, object]]
    case_id: int | None
    created_at: datetime
    decided_at: datetime | None

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "item_id": self.item_id,
            "status": self.status,
            "verdict": self.verdict,
            "error": self.error,
            "matches": self.matches,
            "case_id": self.case_id,
        }


def accept_upload(
    database: Database, item_id: str, metadata: Mapping[str, Any], data: bytes
) -> Accepted:
    """Store the upload and its job durably before the platform gets an answer; idempotent on
    `item_id` (a repeat returns the existing item and stores nothing)."""
    return accept_many(database, [upload_submission(item_id, metadata, data)])[0]


def accept_signals(
    database: Database, item_id: str, metadata: Mapping[str, Any], signals: Mapping[str, str]
) -> Accepted:
    """A hash-only submission: the platform hashed the content itself; nothing else is stored."""
    return accept_many(database, [signals_submission(item_id, metadata, signals)])[0]


def upload_submission(item_id: str, metadata: Mapping[str, Any], data: bytes) -> Submission:
    # An empty upload is accepted too: its verdict is `error` with the code `empty`.
    _check_item_id(item_id)
    return Submission(item_id, metadata, data=data)


def signals_submission(
    item_id: str, metadata: Mapping[str, Any], signals: Mapping[str, str]
) -> Submission:
    """Validated and in canonical form; InvalidInput (or InvalidHash) when a signal is not."""
    _check_item_id(item_id)
    if not signals:
        raise InvalidInput("give at least one signal")
    canonical: dict[str, object] = {}
    for name, value in signals.items():
        checked = get_signal_type(name).validate(value)
        canonical[name] = {"hash": checked} if name == "pdq" else checked
    return Submission(item_id, metadata, signals=canonical)


def accept_many(database: Database, submissions: Sequence[Submission]) -> list[Accepted]:
    """Store every new submission, its payload and its job in one transaction; answer for each
    in order. A repeated `item_id` (stored before, or earlier in the batch) stores nothing."""
    if not submissions:
        return []
    try:
        with database.unit_of_work() as session:
            return _insert_new(session, submissions)
    except IntegrityError:
        # Another node inserted one of these item ids between the check and the insert
        # (PostgreSQL); one at a time, each submission settles its own race.
        return [_accept(database, s) for s in submissions]


def get_item(database: Database, ident: int) -> ItemView:
    with database.reader() as session:
        item = session.get(Item, ident)
        if item is None:
            raise NotFound(f"no item {ident}")
        matches = session.scalars(
            select(ItemMatch).where(ItemMatch.item_id == ident).order_by(ItemMatch.id)
        ).all()
        case_id = session.scalar(select(Case.id).where(Case.item_id == ident))
        error = (
            {"code": item.error_code, "message": item.error_message or ""}
            if item.error_code
            else None
        )
        return ItemView(
            id=item.id,
            item_id=item.item_id,
            status=item.status,
            verdict=item.verdict,
            error=error,
            matches=[match_dict(m) for m in matches],
            case_id=case_id,
            created_at=item.created_at,
            decided_at=item.decided_at,
        )


def find_item(database: Database, item_id: str) -> Accepted | None:
    with database.reader() as session:
        row = session.execute(
            select(Item.id, Item.status).where(Item.item_id == item_id)
        ).one_or_none()
        return None if row is None else Accepted(row[0], item_id, row[1], created=False)


def match_dict(match: ItemMatch) -> dict[str, object]:
    return {
        "bank": match.bank,
        "indicator_id": match.indicator_id,
        "signal_type": match.signal_type,
        "distance": match.distance,
        "variant": match.variant,
        "outcome": match.outcome,
    }


def _insert_new(session: Session, submissions: Sequence[Submission]) -> list[Accepted]:
    wanted = sorted({s.item_id for s in submissions})
    known: dict[str, tuple[int, str]] = {
        row.item_id: (row.id, row.status)
        for row in session.execute(
            select(Item.item_id, Item.id, Item.status).where(Item.item_id.in_(wanted))
        )
    }
    first: dict[str, Submission] = {}
    for submission in submissions:
        if submission.item_id not in known:
            first.setdefault(submission.item_id, submission)
    if first:
        now = utc_now()
        created = session.execute(
            insert(Item).returning(Item.item_id, Item.id),
            [
                {
                    "item_id": s.item_id,
                    "status": QUEUED,
                    "signals": s.signals,
                    "meta": dict(s.metadata),
                    "created_at": now,
                }
                for s in first.values()
            ],
        )
        ids = {str(item_id): int(ident) for item_id, ident in created}
        payloads = [
            {"item_id": ids[s.item_id], "data": s.data}
            for s in first.values()
            if s.data is not None
        ]
        if payloads:
            session.execute(insert(ItemPayload), payloads)
        session.execute(
            insert(Job),
            [{"item_id": ids[i], "state": QUEUED, "attempts": 0, "created_at": now} for i in first],
        )
        known.update({item_id: (ident, QUEUED) for item_id, ident in ids.items()})
    return [
        Accepted(known[s.item_id][0], s.item_id, known[s.item_id][1], first.get(s.item_id) is s)
        for s in submissions
    ]


def _accept(database: Database, submission: Submission) -> Accepted:
    existing = find_item(database, submission.item_id)
    if existing is not None:
        return existing
    try:
        with database.unit_of_work() as session:
            item = Item(
                item_id=submission.item_id,
                status=QUEUED,
                signals=submission.signals,
                meta=dict(submission.metadata),
                created_at=utc_now(),
            )
            session.add(item)
            session.flush()
            if submission.data is not None:
                session.add(ItemPayload(item_id=item.id, data=submission.data))
            enqueue(session, item.id)
            return Accepted(item.id, submission.item_id, QUEUED, created=True)
    except IntegrityError:
        # Two submissions of one item raced; the other one won.
        found = find_item(database, submission.item_id)
        if found is None:
            raise
        return found


def _check_item_id(item_id: str) -> None:
    if not item_id or len(item_id) > 256:
        raise InvalidInput("item_id must be 1-256 characters")


def accept_local(database: Database, item_id: str, metadata: Mapping[str, Any]) -> Accepted:
    """An item for a file the caller hashes itself (batch scanning): no payload and no job, so
    no node worker takes it; a scan interrupted before its verdict finds it again on re-run."""
    existing = find_item(database, item_id)
    if existing is not None:
        return existing
    with database.unit_of_work() as session:
        item = Item(item_id=item_id, status=PROCESSING, meta=dict(metadata), created_at=utc_now())
        session.add(item)
        session.flush()
        return Accepted(item.id, item_id, PROCESSING, created=True)
