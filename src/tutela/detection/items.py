"""Accepting items (uploads and hash-only submissions) and reading them back.

`accept_many` stores a batch of submissions in one transaction (the API's group commit); each is
durable when it returns. An item is identified by its platform, the platform's `item_ref` and the
SHA-256 of its content (the upload's bytes; a hash-only submission's canonical signals): the same
three again are a replay and answer with the item stored first; the same `item_ref` with other
content is another item, hashed and decided on its own. A submission is queued for a
detection worker, or comes already matched (`Submission.outcome`: the API hashed it) and gets its
verdict in that same transaction; then its bytes are stored only if they matched, to be held for
review, and an upload that matched nothing never touches the database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tutela.auth.platforms import DEFAULT_PLATFORM
from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.detection.bases import basis_names
from tutela.detection.item_metadata import ITEM_REF_MAX, check_identifier, check_metadata
from tutela.detection.models import Case, Item, ItemMatch, ItemPayload, ItemStatus, Job, JobState
from tutela.detection.policy import verdict_of
from tutela.detection.verdicts import (
    Outcome,
    basis_columns,
    decided_columns,
    undecided_columns,
    verdict_message,
    write_outcomes,
)
from tutela.detection.webhooks import enqueue_platform_events
from tutela.errors import InvalidInput, NotFound
from tutela.master_key import MasterKey
from tutela.signals.registry import get_signal_type

# The upload path's statements, on Core tables (no ORM bookkeeping per row) and built once:
# building one costs about as much as running it, once per batch of uploads.
ITEMS = cast(Table, Item.__table__)
_KNOWN = select(
    ITEMS.c.platform, ITEMS.c.item_ref, ITEMS.c.content_digest, ITEMS.c.id, ITEMS.c.status
).where(
    ITEMS.c.platform.in_(bindparam("platforms", expanding=True)),
    ITEMS.c.item_ref.in_(bindparam("item_refs", expanding=True)),
)
_INSERT_ITEMS = insert(ITEMS).returning(
    ITEMS.c.platform, ITEMS.c.item_ref, ITEMS.c.content_digest, ITEMS.c.id
)
# An item's identity: (platform, item_ref, content digest).
ItemKey = tuple[str, str, str]
_INSERT_PAYLOADS = insert(cast(Table, ItemPayload.__table__))
_INSERT_JOBS = insert(cast(Table, Job.__table__))


@dataclass(frozen=True, slots=True)
class Accepted:
    id: int
    item_ref: str
    status: str
    created: bool


@dataclass(frozen=True, slots=True)
class Submission:
    """One item to accept: an upload (`data`) or the signals a platform computed itself; with
    `outcome`, what hashing and matching found for it already (nothing is left to a worker)."""

    item_ref: str
    metadata: Mapping[str, Any]
    data: bytes | None = None
    signals: dict[str, object] | None = None
    outcome: Outcome | None = None
    # When the node received it (its `created_at`, from which verdict latency counts); None: when
    # it is stored.
    received_at: datetime | None = None
    # The platform of the API key that sent it.
    platform: str = DEFAULT_PLATFORM
    # SHA-256 (hex) of the content; "" until `with_digest` computed it (on the thread that stores
    # it, not the API's event loop: hashing 16 MiB takes about 10 ms).
    content_digest: str = ""
    # A video upload's spooled file, relative to the data directory: its job names it, and the
    # workers hash it from there (tutela.detection.video_queue).
    spool_path: str | None = None

    @property
    def identity(self) -> ItemKey:
        return (self.platform, self.item_ref, self.content_digest)

    @property
    def stored_data(self) -> bytes | None:
        """The bytes to store: all of a queued upload, those of a matched one only."""
        if self.outcome is not None and not self.outcome.matches:
            return None
        return self.data

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else 0


@dataclass(frozen=True, slots=True)
class ItemView:
    id: int
    item_ref: str
    status: str
    verdict: str | None
    error: dict[str, str] | None
    matches: list[dict[str, object]]
    case_id: int | None
    created_at: datetime
    decided_at: datetime | None
    # Why a `no_match` came without matching (`not_under_order`), and what detection ran under.
    reason: str | None = None
    basis: dict[str, object] | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "item_id": self.item_ref,
            "status": self.status,
            "verdict": self.verdict,
            "reason": self.reason,
            "basis": self.basis,
            "error": self.error,
            "matches": self.matches,
            "case_id": self.case_id,
        }


def accept_upload(
    database: Database,
    item_ref: str,
    metadata: Mapping[str, Any],
    data: bytes,
    *,
    platform: str = DEFAULT_PLATFORM,
) -> Accepted:
    """Store the upload and its job durably before the platform gets an answer; a replay (same
    platform, `item_ref` and bytes) returns the existing item and stores nothing."""
    submission = upload_submission(item_ref, metadata, data, platform=platform)
    return accept_many(database, [submission])[0]


def accept_signals(
    database: Database,
    item_ref: str,
    metadata: Mapping[str, Any],
    signals: Mapping[str, str],
    *,
    platform: str = DEFAULT_PLATFORM,
) -> Accepted:
    """A hash-only submission: the platform hashed the content itself; nothing else is stored."""
    submission = signals_submission(item_ref, metadata, signals, platform=platform)
    return accept_many(database, [submission])[0]


def upload_submission(
    item_ref: str, metadata: Mapping[str, Any], data: bytes, *, platform: str = DEFAULT_PLATFORM
) -> Submission:
    # An empty upload is accepted too: its verdict is `error` with the code `empty`.
    check_identifier(item_ref, "item_id", ITEM_REF_MAX)
    check_metadata(metadata)
    return Submission(item_ref, metadata, data=data, platform=platform)


def signals_submission(
    item_ref: str,
    metadata: Mapping[str, Any],
    signals: Mapping[str, str],
    *,
    platform: str = DEFAULT_PLATFORM,
) -> Submission:
    """Validated and in canonical form; InvalidInput (or InvalidHash) when a signal is not."""
    check_identifier(item_ref, "item_id", ITEM_REF_MAX)
    check_metadata(metadata)
    if not signals:
        raise InvalidInput("give at least one signal")
    canonical: dict[str, object] = {}
    for name, value in signals.items():
        checked = get_signal_type(name).validate(value)
        canonical[name] = {"hash": checked} if name == "pdq" else checked
    return Submission(
        item_ref, metadata, signals=canonical, platform=platform, content_digest=_digest(canonical)
    )


def with_digest(submission: Submission) -> Submission:
    """The submission with its content digest: the upload's SHA-256 (from hashing, when it was
    hashed here), or of its canonical signals."""
    if submission.content_digest:
        return submission
    if submission.data is None:
        return replace(submission, content_digest=_digest(submission.signals or {}))
    hashed = submission.outcome.signals if submission.outcome is not None else None
    known = hashed.get("sha256") if hashed else None
    digest = known if isinstance(known, str) else hashlib.sha256(submission.data).hexdigest()
    return replace(submission, content_digest=digest)


def accept_many(
    database: Database, submissions: Sequence[Submission], *, master_key: MasterKey | None = None
) -> list[Accepted]:
    """Store every new submission, its payload and its job (or its verdict) in one transaction;
    answer for each in order. A replayed item (its platform, `item_ref` and content stored
    before, or earlier in the batch) stores nothing. Payloads held for review are sealed under
    `master_key` (the vault's)."""
    if not submissions:
        return []
    submissions = [with_digest(s) for s in submissions]
    try:
        with database.unit_of_work() as session:
            return _insert_new(session, submissions, master_key)
    except IntegrityError:
        # Another node inserted one of these items between the check and the insert
        # (PostgreSQL); one at a time, each submission settles its own race.
        return [_accept(database, s, master_key) for s in submissions]


def get_item(database: Database, ident: int, *, platform: str | None = None) -> ItemView:
    """The item, with its matches and case. With `platform` (an API key's), another platform's
    item is NotFound exactly as a missing one; None is the node's own view (console, CLI)."""
    with database.reader() as session:
        item = session.get(Item, ident)
        if item is None or (platform is not None and item.platform != platform):
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
        bases = basis_names(session, [item.detection_basis_id] if item.detection_basis_id else [])
        basis = bases.get(item.detection_basis_id) if item.detection_basis_id else None
        return ItemView(
            id=item.id,
            item_ref=item.item_ref,
            status=item.status,
            verdict=item.verdict,
            error=error,
            matches=[match_dict(m) for m in matches],
            case_id=case_id,
            created_at=item.created_at,
            decided_at=item.decided_at,
            reason=item.verdict_reason,
            basis=basis.as_dict() if basis is not None else None,
        )


def check_item_of(database: Database, ident: int, platform: str) -> None:
    """NotFound unless item `ident` exists and is `platform`'s (as a missing one would be)."""
    with database.reader() as session:
        if session.scalar(select(Item.platform).where(Item.id == ident)) != platform:
            raise NotFound(f"no item {ident}")


def find_item(
    database: Database, item_ref: str, *, platform: str = DEFAULT_PLATFORM
) -> Accepted | None:
    """The platform's newest item with this `item_ref`, whatever its content."""
    with database.reader() as session:
        row = session.execute(
            select(Item.id, Item.status)
            .where(Item.platform == platform, Item.item_ref == item_ref)
            .order_by(Item.id.desc())
            .limit(1)
        ).one_or_none()
        return None if row is None else Accepted(row[0], item_ref, row[1], created=False)


def _find_identity(database: Database, identity: ItemKey) -> Accepted | None:
    platform, item_ref, digest = identity
    with database.reader() as session:
        row = session.execute(
            select(Item.id, Item.status).where(
                Item.platform == platform, Item.item_ref == item_ref, Item.content_digest == digest
            )
        ).one_or_none()
        return None if row is None else Accepted(row[0], item_ref, row[1], created=False)


def match_dict(match: ItemMatch) -> dict[str, object]:
    return {
        "bank": match.bank,
        "indicator_id": match.indicator_id,
        "signal_type": match.signal_type,
        "distance": match.distance,
        "variant": match.variant,
        **({"video": match.video} if match.video is not None else {}),
        "outcome": match.outcome,
        "basis_id": match.basis_id,
    }


def _insert_new(
    session: Session, submissions: Sequence[Submission], master_key: MasterKey | None
) -> list[Accepted]:
    wanted = {
        "platforms": sorted({s.platform for s in submissions}),
        "item_refs": sorted({s.item_ref for s in submissions}),
    }
    known: dict[ItemKey, tuple[int, str]] = {
        (row.platform, row.item_ref, row.content_digest): (row.id, row.status)
        for row in session.execute(_KNOWN, wanted)
    }
    first: dict[ItemKey, Submission] = {}
    for submission in submissions:
        if submission.identity not in known:
            first.setdefault(submission.identity, submission)
    if first:
        _insert(session, list(first.values()), known, master_key)
    return [
        Accepted(known[s.identity][0], s.item_ref, known[s.identity][1], first.get(s.identity) is s)
        for s in submissions
    ]


def _insert(
    session: Session,
    new: list[Submission],
    known: dict[ItemKey, tuple[int, str]],
    master_key: MasterKey | None,
) -> None:
    """Insert the new submissions, adding each to `known`. An upload that matched nothing is
    inserted decided; one that matched is decided by policy (tutela.detection.verdicts); one
    without an outcome is queued, with a job, for a worker."""
    now = utc_now()
    rows = [_item_row(s, now) for s in new]
    created = session.execute(_INSERT_ITEMS, rows)
    ids = {
        (str(platform), str(item_ref), str(digest)): int(ident)
        for platform, item_ref, digest, ident in created
    }
    payloads = [
        {"item_id": ids[s.identity], "data": data}
        for s in new
        if (data := s.stored_data) is not None
    ]
    if payloads:
        session.execute(_INSERT_PAYLOADS, payloads)
    jobs = [
        {
            "item_id": ids[s.identity],
            "state": JobState.QUEUED,
            "attempts": 0,
            "created_at": now,
            "spool_path": s.spool_path,
        }
        for s in new
        if s.outcome is None
    ]
    if jobs:
        session.execute(_INSERT_JOBS, jobs)
    matched = [
        (ids[s.identity], s.outcome) for s in new if s.outcome is not None and s.outcome.matches
    ]
    if matched:
        write_outcomes(session, matched, now, master_key=master_key)
    unmatched = [
        (
            ids[s.identity],
            verdict_message(
                ids[s.identity],
                s.item_ref,
                verdict_of([], s.outcome.error),
                s.outcome.error,
                [],
                None,
                now,
                s.outcome,
            ),
        )
        for s in new
        if s.outcome is not None and not s.outcome.matches
    ]
    if unmatched:
        platforms = {ids[s.identity]: s.platform for s in new}
        enqueue_platform_events(session, unmatched, platforms=platforms)
    for s in new:
        known[s.identity] = (
            ids[s.identity],
            ItemStatus.QUEUED if s.outcome is None else ItemStatus.DONE,
        )


def _item_row(submission: Submission, now: datetime) -> dict[str, object]:
    """A new item's row: queued, or (an upload that matched nothing) decided already."""
    row: dict[str, object] = {
        "platform": submission.platform,
        "item_ref": submission.item_ref,
        "content_digest": submission.content_digest,
        "metadata": dict(submission.metadata),
        "created_at": submission.received_at or now,
    }
    outcome = submission.outcome
    if outcome is None or outcome.matches:
        return {**row, **undecided_columns(submission.signals)}
    verdict = verdict_of([], outcome.error)
    return {
        **row,
        **decided_columns(verdict, outcome.signals, outcome.error, now),
        **basis_columns(outcome),
    }


def _accept(database: Database, submission: Submission, master_key: MasterKey | None) -> Accepted:
    try:
        with database.unit_of_work() as session:
            return _insert_new(session, [submission], master_key)[0]
    except IntegrityError:
        # Two submissions of one item raced; the other one won.
        found = _find_identity(database, submission.identity)
        if found is None:
            raise
        return found


def _digest(signals: Mapping[str, object]) -> str:
    """SHA-256 of canonical signals as canonical JSON: the same hashes give the same digest."""
    canonical = json.dumps(signals, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def accept_local(database: Database, item_ref: str, metadata: Mapping[str, Any]) -> Accepted:
    """An item for a file the caller hashes itself (batch scanning): no payload and no job, so
    no node worker takes it; a scan interrupted before its verdict finds it again on re-run."""
    existing = find_item(database, item_ref)
    if existing is not None:
        return existing
    with database.unit_of_work() as session:
        item = Item(
            item_ref=item_ref,
            status=ItemStatus.PROCESSING,
            meta=dict(metadata),
            created_at=utc_now(),
        )
        session.add(item)
        session.flush()
        return Accepted(item.id, item_ref, ItemStatus.PROCESSING, created=True)
