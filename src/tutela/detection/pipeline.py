"""The detection pipeline: claimed jobs → hashes (isolated) → matches → policy → one verdict.

Uploads are hashed in fast mode; one with a PDQ candidate within CONFIRM_MARGIN bits of a bank's
threshold (or review distance), either side, is hashed again in exact mode and decided by that
hash (`Decider`, `fast_outcome`), so every verdict equals exact mode's while most uploads (no
candidate near a limit) cost one fast hash. Robust query variants are hashed when some enabled
bank is robust, as the batch is claimed.

`decide_stream` claims batch after batch and turns each into outcomes (hashing only what has a
payload), handing every finished batch to a recorder (tutela.detection.verdicts: one transaction
per batch). The next batch is claimed on a thread while the one before is hashed, and the pool is
fed from it before the last files of that one come back, so hashing never waits for a claim or a
commit. `process_batch` is one batch,
start to end.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from tutela.db.database import Database
from tutela.detection.bases import Decision, DetectionGate, service_of
from tutela.detection.hasher import Hasher, HashJob, Result
from tutela.detection.models import Item, ItemPayload
from tutela.detection.queue import ClaimedJob, claim_jobs
from tutela.detection.verdicts import Outcome, gated, not_under_order, record_outcomes
from tutela.errors import TutelaError, Unprocessable
from tutela.indicators.matcher import CONFIRM_MARGIN, Matcher, MatchResult
from tutela.signals.pdq import PdqHash, PdqSignal

# A job that has been claimed this often without an outcome kills its workers; give up on it.
MAX_JOB_ATTEMPTS = 5
PDQ = PdqSignal.name
# Upload bytes read from the database at once by one worker (see _payloads).
PAYLOAD_READ_BYTES = 16 * 1024 * 1024
# How often the claiming thread, waiting for its last batch to be taken, checks it should stop.
SLOT_POLL_S = 0.1

Outcomes = list[tuple[int, Outcome]]

__all__ = [
    "MAX_JOB_ATTEMPTS",
    "Decider",
    "Outcome",
    "decide_stream",
    "fast_outcome",
    "find_matches",
    "outcome_of",
    "process_batch",
]


def process_batch(
    database: Database,
    hasher: Hasher,
    matcher: Matcher,
    *,
    worker: str,
    limit: int,
    lease_s: float,
    gate: DetectionGate | None = None,
) -> int:
    """Claim up to `limit` jobs, decide them and record the verdicts; return how many were claimed."""
    batches = [claim_jobs(database, worker, limit, lease_s)]
    return decide_stream(
        database,
        hasher,
        matcher,
        claim=lambda: batches.pop() if batches else [],
        record=lambda outcomes: record_outcomes(database, outcomes),
        gate=gate,
    )


@dataclass(eq=False)
class _Batch:
    """One claim's outcomes; complete once all its files went to the pool (`sealed`) and no
    result of them is still awaited."""

    outcomes: Outcomes
    to_hash: dict[int, int] = field(default_factory=dict)  # item id → payload bytes
    # What allows matching each item to hash (tutela.detection.bases).
    decisions: dict[int, Decision] = field(default_factory=dict)
    sealed: bool = False
    # Some enabled bank was robust when it was claimed: its files' robust variants are hashed.
    robust: bool = False

    @property
    def complete(self) -> bool:
        return self.sealed and not self.to_hash


def decide_stream(
    database: Database,
    hasher: Hasher,
    matcher: Matcher,
    *,
    claim: Callable[[], Sequence[ClaimedJob]],
    record: Callable[[Outcomes], object],
    heartbeat: Callable[[], object] | None = None,
    gate: DetectionGate | None = None,
) -> int:
    """Decide claimed batches until `claim` returns none; `record` gets each batch's outcomes once
    all of them are known. Return how many jobs were claimed. `heartbeat` is called with each
    hashing result, as progress (the worker's lease keeper stops renewing without it).

    An item is hashed from its payload, or matched from the signals a hash-only submission gave,
    only when an order or voluntary basis covers its service as it is claimed (`gate`, one on
    the system clock by default); otherwise it is `no_match`, `not_under_order`, unhashed. One
    claimed too often gets `unprocessable` instead.
    """
    owner: dict[int, _Batch] = {}
    claimed_count = 0
    gate = gate or DetectionGate(database)

    def claim_and_prepare() -> tuple[int, _Batch] | None:
        claimed = claim()
        if not claimed:
            return None
        matcher.refresh()
        return len(claimed), _prepare(database, matcher, claimed, gate)

    def files(ahead: _ClaimAhead) -> Iterator[HashJob]:
        nonlocal claimed_count
        for count, batch in ahead:
            claimed_count += count
            # An item still being hashed for an earlier claim (its lease ran out and this worker
            # took it again) is decided there; its job is finished with that batch.
            for item_id in batch.to_hash.keys() & owner.keys():
                del batch.to_hash[item_id]
            for item_id, data in _payloads(database, sorted(batch.to_hash.items())):
                owner[item_id] = batch
                yield HashJob(item_id, data, robust=batch.robust)
            for item_id in batch.to_hash.keys() - owner.keys():  # its payload went meanwhile
                del batch.to_hash[item_id]
                batch.outcomes.append((item_id, Outcome(None, [])))
            batch.sealed = True
            if batch.complete:
                record(batch.outcomes)

    decider = Decider(matcher)
    with _ClaimAhead(claim_and_prepare) as ahead:
        for item_id, result in hasher.hash_many(files(ahead), confirm=decider.needs_exact):
            if heartbeat is not None:
                heartbeat()
            batch = owner.pop(item_id)
            del batch.to_hash[item_id]
            outcome = gated(decider.outcome(item_id, result), batch.decisions.pop(item_id, None))
            batch.outcomes.append((item_id, outcome))
            if batch.complete:
                record(batch.outcomes)
    return claimed_count


class _ClaimAhead:
    """Claims and prepares the next batch on a thread while the current one is being hashed: a
    claim waits for the database's write lock (SQLite has one, which uploads and verdicts take
    too), and the hashing processes must not wait with it. Iterating gives the batches in claim
    order until a claim comes back empty; an error of the thread is raised there."""

    def __init__(self, claim: Callable[[], tuple[int, _Batch] | None]) -> None:
        self._claim = claim
        self._ready: queue.SimpleQueue[tuple[int, _Batch] | BaseException | None] = (
            queue.SimpleQueue()
        )
        # One batch at most is claimed and not yet taken: a worker holds few jobs it is not at.
        self._slot = threading.Semaphore(1)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="claim-ahead", daemon=True)

    def __enter__(self) -> _ClaimAhead:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed.set()
        self._thread.join()

    def __iter__(self) -> Iterator[tuple[int, _Batch]]:
        while (item := self._ready.get()) is not None:
            self._slot.release()
            if isinstance(item, BaseException):
                raise item
            yield item

    def _run(self) -> None:
        try:
            while not self._closed.is_set():
                if not self._slot.acquire(timeout=SLOT_POLL_S):
                    continue
                batch = self._claim()
                self._ready.put(batch)
                if batch is None:
                    return
        except BaseException as error:  # raised again in the iterating thread
            self._ready.put(error)


def _prepare(
    database: Database, matcher: Matcher, claimed: Sequence[ClaimedJob], gate: DetectionGate
) -> _Batch:
    """The outcomes known without hashing, and the items left to hash."""
    ids = [job.item_id for job in claimed]
    given_up = {job.item_id for job in claimed if job.attempts > MAX_JOB_ATTEMPTS}
    with database.reader() as session:
        rows = session.execute(
            select(Item.id, Item.signals, Item.meta).where(Item.id.in_(ids))
        ).all()
        stored: dict[int, dict[str, Any] | None] = {row.id: row.signals for row in rows}
        services = {row.id: service_of(row.meta) for row in rows}
        sizes: dict[int, int] = dict(
            session.execute(
                select(ItemPayload.item_id, func.length(ItemPayload.data)).where(
                    ItemPayload.item_id.in_(ids)
                )
            ).all()
        )
    batch = _Batch(outcomes=[], robust=matcher.robust)
    for item_id in ids:
        if item_id in given_up:
            error = Unprocessable(f"processing failed {MAX_JOB_ATTEMPTS} times")
            batch.outcomes.append((item_id, Outcome(None, [], error.as_dict())))
        elif item_id not in services:
            batch.outcomes.append((item_id, Outcome(None, [])))  # gone
        elif (decision := gate.decide(services[item_id])) is None:
            # Art 7-11: no order or voluntary basis covers its service; nothing is hashed.
            batch.outcomes.append((item_id, not_under_order()))
        elif item_id in sizes:
            batch.to_hash[item_id] = sizes[item_id]
            batch.decisions[item_id] = decision
        elif given := stored.get(item_id):
            matched = Outcome(given, find_matches(matcher, given))
            batch.outcomes.append((item_id, gated(matched, decision)))
        else:
            batch.outcomes.append((item_id, Outcome(None, [])))  # already decided, or gone
    return batch


class Decider:
    """Outcomes of hashing results, a fast one confirmed by an exact hash near a limit: the
    hasher asks `needs_exact(key, fast result)` (which decides it, or says the file must be
    hashed exactly), then `outcome(key, result)` gives the outcome of what it yielded."""

    def __init__(self, matcher: Matcher) -> None:
        self._matcher = matcher
        self._decided: dict[int, Outcome] = {}

    def needs_exact(self, key: int, result: Result) -> bool:
        outcome = fast_outcome(self._matcher, result)
        if outcome is None:
            return True
        self._decided[key] = outcome
        return False

    def outcome(self, key: int, result: Result) -> Outcome:
        decided = self._decided.pop(key, None)
        return decided if decided is not None else outcome_of(self._matcher, result)


def outcome_of(matcher: Matcher, signals: Result) -> Outcome:
    """Match what hashing produced, as it is (an exact-mode hash, or a fast one taken as it
    is); a media error is kept, and exact hashes still match."""
    outcome = _outcome(matcher, signals, margin=0)
    assert outcome is not None  # with no margin every query is decided
    return outcome


def fast_outcome(matcher: Matcher, signals: Result) -> Outcome | None:
    """The outcome of a fast-mode hash, or None when the file must be hashed in exact mode and
    decided by `outcome_of` that: a PDQ candidate within CONFIRM_MARGIN bits of a bank's limit
    (either side), or any candidate with a quality within QUALITY_MARGIN of PDQ's rules
    (Matcher.match_pdq)."""
    return _outcome(matcher, signals, margin=CONFIRM_MARGIN)


def _outcome(matcher: Matcher, signals: Result, *, margin: int) -> Outcome | None:
    if isinstance(signals, TutelaError):
        return Outcome(signals=None, matches=[], error=signals.as_dict())
    stored = signals.signals_dict()
    pdq = signals.pdq
    if pdq is not None:
        stored["pdq"] = {"hash": pdq.hash, "quality": pdq.quality}
    matches = _find(matcher, stored, pdq, margin)
    if matches is None:
        return None
    error = signals.error.as_dict() if signals.error is not None else None
    return Outcome(signals=stored, matches=matches, error=error)


def find_matches(matcher: Matcher, signals: dict[str, Any]) -> list[MatchResult]:
    """Every match of stored or given signals, review band included (policy sorts them out).
    A PDQ given as a bare hash is matched as given: there is no image to confirm it with."""
    found = _find(matcher, signals, None, margin=0)
    assert found is not None
    return found


def _find(
    matcher: Matcher, signals: dict[str, Any], hashed: PdqHash | None, margin: int
) -> list[MatchResult] | None:
    """Matches of `signals`; `hashed` (the PDQ as hashed here) adds its dihedral and robust
    variants. None when, with `margin`, a PDQ candidate lies that near a limit."""
    found: list[MatchResult] = []
    for name, value in signals.items():
        if name != PDQ:
            found += matcher.match_hashes(name, [value], include_review=True)[0]
            continue
        quality = value.get("quality")
        query = hashed or PdqHash(value["hash"], quality if quality is not None else 100)
        matches = matcher.match_pdq(query, include_review=True, margin=margin)  # quality rule too
        if matches is None:
            return None
        found += matches
    return found


def _payloads(database: Database, sizes: list[tuple[int, int]]) -> Iterator[tuple[int, bytes]]:
    """The payloads of (item id, size) pairs, read as the pool asks for them, a group at a time:
    a worker never holds more than PAYLOAD_READ_BYTES of uploads (or one upload, when it alone
    is bigger), and small uploads cost one query per group, not one each."""
    groups: list[list[int]] = [[]]
    held = 0
    for item_id, size in sizes:
        if groups[-1] and held + size > PAYLOAD_READ_BYTES:
            groups.append([])
            held = 0
        groups[-1].append(item_id)
        held += size
    with database.reader() as session:
        for group in groups:
            found = dict(
                session.execute(
                    select(ItemPayload.item_id, ItemPayload.data).where(
                        ItemPayload.item_id.in_(group)
                    )
                ).all()
            )
            for item_id in group:
                if (data := found.pop(item_id, None)) is not None:
                    yield item_id, data
