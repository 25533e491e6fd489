"""The detection pipeline: claimed jobs → hashes (isolated) → matches → policy → one verdict.

Everything an item's outcome changes — verdict, matches, case, webhook outbox rows, the payload's
deletion and the job's completion — is written in one transaction, guarded by the item's status,
so a worker killed at any point leaves either nothing or everything, and never two verdicts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from tutela.db.database import Database
from tutela.db.types import utc_now
from tutela.detection.cases import open_case
from tutela.detection.hasher import Hasher
from tutela.detection.items import DONE, match_dict
from tutela.detection.models import Item, ItemMatch, ItemPayload
from tutela.detection.policy import ACTION, ERROR, REVIEW, judge_matches, verdict_of
from tutela.detection.queue import ClaimedJob, claim_jobs, finish_job
from tutela.detection.webhooks import add_verdict_deliveries
from tutela.errors import TutelaError
from tutela.indicators.matcher import Matcher, MatchResult
from tutela.signals.hashing import MediaSignals
from tutela.signals.pdq import MIN_MATCHABLE_QUALITY, PdqSignal

# A job that has been claimed this often without an outcome kills its workers; give up on it.
MAX_JOB_ATTEMPTS = 5
PDQ = PdqSignal.name


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a worker found for one item, before policy."""

    signals: dict[str, Any] | None
    matches: Sequence[MatchResult]
    error: dict[str, str] | None = None


def process_batch(
    database: Database, hasher: Hasher, matcher: Matcher, *, worker: str, limit: int, lease_s: float
) -> int:
    """Claim up to `limit` jobs and decide each; return how many jobs were claimed."""
    claimed = claim_jobs(database, worker, limit, lease_s)
    if not claimed:
        return 0
    matcher.refresh()
    for item_id, outcome in _outcomes(database, hasher, matcher, claimed):
        record_outcome(database, item_id, outcome)
    return len(claimed)


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


def record_outcome(database: Database, item_id: int, outcome: Outcome) -> bool:
    """Record the item's one verdict; False when it already had one (a reclaimed job)."""
    now = utc_now()
    with database.unit_of_work() as session:
        item = session.get(Item, item_id, with_for_update=True)
        if item is None or item.status == DONE:
            finish_job(session, item_id)
            return False
        values = _signal_values(outcome.signals)
        judged = judge_matches(session, outcome.matches, values, now)
        verdict = verdict_of(judged)
        if outcome.error is not None and not judged:
            verdict = ERROR
        rows = [
            ItemMatch(
                item_id=item_id,
                bank_id=j.bank_id,
                bank=j.match.bank,
                indicator_id=j.match.indicator_id,
                signal_type=j.match.signal_type,
                distance=j.match.distance,
                variant=j.match.variant,
                outcome=j.outcome,
                created_at=now,
            )
            for j in judged
        ]
        session.add_all(rows)
        item.status = DONE
        item.verdict = verdict
        item.signals = outcome.signals or item.signals
        if outcome.error is not None:
            item.error_code = outcome.error["code"]
            item.error_message = outcome.error["message"]
        item.decided_at = now
        case_id = None
        if verdict in (ACTION, REVIEW):
            case_id = open_case(session, item_id, verdict, judged, now).id
        session.execute(delete(ItemPayload).where(ItemPayload.item_id == item_id))
        finish_job(session, item_id)
        session.flush()
        add_verdict_deliveries(
            session,
            item_id,
            {
                "event": "item.verdict",
                "id": item_id,
                "item_id": item.item_id,
                "verdict": verdict,
                "error": outcome.error,
                "matches": [match_dict(row) for row in rows],
                "case_id": case_id,
                "decided_at": now.isoformat(),
            },
        )
        return True


def _outcomes(
    database: Database, hasher: Hasher, matcher: Matcher, claimed: list[ClaimedJob]
) -> Iterator[tuple[int, Outcome]]:
    ids = [job.item_id for job in claimed]
    given_up = {job.item_id for job in claimed if job.attempts > MAX_JOB_ATTEMPTS}
    with database.reader() as session:
        stored: dict[int, dict[str, Any] | None] = dict(
            session.execute(select(Item.id, Item.signals).where(Item.id.in_(ids))).tuples().all()
        )
        with_payload = set(
            session.scalars(select(ItemPayload.item_id).where(ItemPayload.item_id.in_(ids)))
        )
    for item_id in ids:
        if item_id in given_up:
            message = f"processing failed {MAX_JOB_ATTEMPTS} times"
            yield item_id, Outcome(None, [], {"code": "unprocessable", "message": message})
        elif item_id not in with_payload and (given := stored.get(item_id)):
            yield item_id, Outcome(given, find_matches(matcher, given))
        elif item_id not in with_payload:
            yield item_id, Outcome(None, [])  # already decided, or gone: record_outcome skips it
    to_hash = [i for i in ids if i in with_payload and i not in given_up]
    for item_id, result in hasher.hash_many(_payloads(database, to_hash)):
        yield item_id, outcome_of(matcher, result)


def _payloads(database: Database, ids: list[int]) -> Iterator[tuple[int, bytes]]:
    """Read payloads one at a time, so a batch never holds all its uploads in memory."""
    for item_id in ids:
        with database.reader() as session:
            data = session.scalar(select(ItemPayload.data).where(ItemPayload.item_id == item_id))
        if data is not None:
            yield item_id, data


def _signal_values(signals: dict[str, Any] | None) -> dict[str, str]:
    """type → value of the item's signals, as the safe list stores them."""
    out: dict[str, str] = {}
    for name, value in (signals or {}).items():
        out[name] = value["hash"] if isinstance(value, dict) else str(value)
    return out
