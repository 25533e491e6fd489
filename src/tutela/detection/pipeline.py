"""The detection pipeline: claimed jobs → hashes (isolated) → matches → policy → one verdict.

`decide` turns a claimed batch into outcomes (hashing only what has a payload); recording them is
tutela.detection.verdicts, one transaction per batch. The worker overlaps the two (see
tutela.detection.worker); `process_batch` runs them one after the other.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import select

from tutela.db.database import Database
from tutela.detection.hasher import Hasher
from tutela.detection.models import Item, ItemPayload
from tutela.detection.queue import ClaimedJob, claim_jobs
from tutela.detection.verdicts import Outcome, record_outcomes
from tutela.errors import TutelaError, Unprocessable
from tutela.indicators.matcher import Matcher, MatchResult
from tutela.signals.hashing import MediaSignals
from tutela.signals.pdq import MIN_MATCHABLE_QUALITY, PdqSignal

# A job that has been claimed this often without an outcome kills its workers; give up on it.
MAX_JOB_ATTEMPTS = 5
PDQ = PdqSignal.name

__all__ = ["MAX_JOB_ATTEMPTS", "Outcome", "decide", "find_matches", "outcome_of", "process_batch"]


def process_batch(
    database: Database, hasher: Hasher, matcher: Matcher, *, worker: str, limit: int, lease_s: float
) -> int:
    """Claim up to `limit` jobs, decide them and record the verdicts; return how many were claimed."""
    claimed = claim_jobs(database, worker, limit, lease_s)
    if claimed:
        record_outcomes(database, decide(database, hasher, matcher, claimed))
    return len(claimed)


def decide(
    database: Database, hasher: Hasher, matcher: Matcher, claimed: Sequence[ClaimedJob]
) -> list[tuple[int, Outcome]]:
    """Each claimed item's outcome: hashed from its payload, or matched from the signals a
    hash-only submission gave; an item claimed too often gets `unprocessable` instead."""
    matcher.refresh()
    ids = [job.item_id for job in claimed]
    given_up = {job.item_id for job in claimed if job.attempts > MAX_JOB_ATTEMPTS}
    with database.reader() as session:
        stored: dict[int, dict[str, Any] | None] = dict(
            session.execute(select(Item.id, Item.signals).where(Item.id.in_(ids))).all()
        )
        with_payload = set(
            session.scalars(select(ItemPayload.item_id).where(ItemPayload.item_id.in_(ids)))
        )
    outcomes: list[tuple[int, Outcome]] = []
    for item_id in ids:
        if item_id in given_up:
            error = Unprocessable(f"processing failed {MAX_JOB_ATTEMPTS} times")
            outcomes.append((item_id, Outcome(None, [], error.as_dict())))
        elif item_id not in with_payload and (given := stored.get(item_id)):
            outcomes.append((item_id, Outcome(given, find_matches(matcher, given))))
        elif item_id not in with_payload:
            outcomes.append((item_id, Outcome(None, [])))  # already decided, or gone: skipped
    to_hash = [i for i in ids if i in with_payload and i not in given_up]
    if to_hash:
        # Results first, matching after: the pool sends the next file only when asked for the
        # next result, so matching in between would leave the hashing process idle.
        hashed = list(hasher.hash_many(_payloads(database, to_hash)))
        outcomes += [(item_id, outcome_of(matcher, result)) for item_id, result in hashed]
    return outcomes


def outcome_of(matcher: Matcher, signals: MediaSignals | TutelaError) -> Outcome:
    """Match what hashing produced; a media error is kept, and exact hashes still match."""
    if isinstance(signals, TutelaError):
        return Outcome(signals=None, matches=[], error=signals.as_dict())
    stored = signals.signals_dict()
    if signals.pdq is not None:
        stored["pdq"] = {"hash": signals.pdq.hash, "quality": signals.pdq.quality}
    variants = signals.pdq.dihedral if signals.pdq is not None else None
    matches = find_matches(matcher, stored, variants)
    error = signals.error.as_dict() if signals.error is not None else None
    return Outcome(signals=stored, matches=matches, error=error)


def find_matches(
    matcher: Matcher, signals: dict[str, Any], dihedral: Sequence[str] | None = None
) -> list[MatchResult]:
    """Every match of the item's signals, review band included (policy sorts them out)."""
    found: list[MatchResult] = []
    for name, value in signals.items():
        if name == PDQ:
            quality = value.get("quality")
            if quality is not None and quality < MIN_MATCHABLE_QUALITY:
                continue  # PDQ's own rule: featureless images match everything nearby
            variants = [list(dihedral)] if dihedral else None
            found += matcher.match_hashes(PDQ, [value["hash"]], variants, include_review=True)[0]
        else:
            found += matcher.match_hashes(name, [value], include_review=True)[0]
    return found


def _payloads(database: Database, ids: list[int]) -> Iterator[tuple[int, bytes]]:
    """Read payloads one at a time as the pool asks for them, so a batch never holds all its
    uploads in memory; one read session serves the whole batch."""
    with database.reader() as session:
        for item_id in ids:
            data = session.scalar(select(ItemPayload.data).where(ItemPayload.item_id == item_id))
            if data is not None:
                yield item_id, data
