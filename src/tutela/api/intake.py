"""How `POST /v1/items` stores what it accepts: uploads hashed here while the hashing pool keeps
up, in group commits.

**Decided at intake.** While fewer than `inline_limit` uploads wait for this process's hashing
pool, an upload is hashed before it is answered, matched, and its verdict written with the item
itself: no job, no worker, and an upload that matched nothing is never written to the database (its
bytes never touch the disk). Beyond that limit (a burst, or a broken pool), and past
INLINE_MAX_BYTES, uploads are queued for the detection workers as before, so a burst costs the
time to store it, not to hash it. A hash-only
submission needs no hashing: it is matched and decided at intake always, whatever `inline_limit`.

**Confirmed exactly.** An upload is hashed in fast mode (with robust variants when some enabled
bank is robust); one whose fast PDQ has a candidate within CONFIRM_MARGIN bits of a bank's limit
is left out of its batch, hashed again in exact mode by the pool, and written with the next batch,
decided by that hash (tutela.detection.pipeline.fast_outcome): the verdict is exact mode's.

**Group commit.** Submissions that arrive while a batch is being written wait for the next one, and
each batch is one transaction (tutela.detection.items.accept_many). A request is answered only
after the commit of the batch holding it. Under load, many uploads share one transaction and
SQLite's single write lock is taken far less often; alone, an upload is written at once. When a
batch's transaction fails, its submissions are written again one transaction each: only the one
that cannot be written answers with the failure, never its neighbours.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import deque

from starlette.concurrency import run_in_threadpool

from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.detection.bases import DetectionGate, service_of
from tutela.detection.hashing_service import HashingService, Result
from tutela.detection.items import Accepted, Submission, accept_many
from tutela.detection.pipeline import fast_outcome, find_matches, outcome_of
from tutela.detection.verdicts import Outcome, gated, not_under_order
from tutela.errors import TutelaError
from tutela.indicators.matcher import Matcher
from tutela.master_key import MasterKey

# Bounds on one transaction: rows, and payload bytes held in it (at least one upload always goes).
MAX_BATCH_ITEMS = 64
MAX_BATCH_BYTES = 32 * 1024 * 1024
# A bigger upload is queued for the workers: handing it to a hashing process holds this process's
# event loop while the bytes are copied over (milliseconds per 10 MB).
INLINE_MAX_BYTES = 16 * 1024 * 1024
# How long a batch waits for the uploads still being hashed when some are (each transaction costs
# about half a millisecond of this process's time, however few rows it writes).
GATHER_S = 0.002

# A submission, what hashing it here gave (None: nothing), whether that was in exact mode, and
# its request's wait.
_Entry = tuple[Submission, Result | None, bool, asyncio.Future[Accepted]]


class Intake:
    """One per app; `accept` may be awaited from any number of requests of its event loop.

    `hashing` and `matcher` hash and match uploads at intake while fewer than `inline_limit` wait
    for the pool (0: every upload is queued for the workers); `master_key` (the vault's) seals
    the bytes of uploads that matched, held for review. `gate` says whether an order or a
    voluntary basis covers a submission's service: one that none covers is decided at once,
    `no_match` with reason `not_under_order`, neither hashed nor matched (Art 7-11).
    """

    def __init__(
        self,
        database: Database,
        matcher: Matcher,
        hashing: HashingService,
        *,
        inline_limit: int,
        master_key: MasterKey | None = None,
        gate: DetectionGate | None = None,
    ) -> None:
        self._database = database
        self.gate = gate or DetectionGate(database)
        self._matcher = matcher
        self._hashing = hashing
        self._inline_limit = inline_limit
        self._master_key = master_key
        self._waiting: deque[_Entry] = deque()
        self._writer: asyncio.Task[None] | None = None
        self._confirming: set[asyncio.Task[None]] = set()

    async def accept(self, submission: Submission) -> Accepted:
        """Store the submission (decided, if it was hashed here); return once it is committed."""
        submission = dataclasses.replace(submission, received_at=utc_now())
        hashed: Result | None = None
        service = service_of(submission.metadata)
        if self.gate.stale:  # reading the bases waits for the database: not on the event loop
            decision = await run_in_threadpool(self.gate.decide, service)
        else:
            decision = self.gate.decide(service)
        if decision is None:
            submission = dataclasses.replace(submission, signals=None, outcome=not_under_order())
        elif submission.data is not None and self._hashes_inline(len(submission.data)):
            try:
                hashed = await self._hashing.hash(submission.data, robust=self._matcher.robust)
            except TutelaError:  # the pool broke meanwhile: the workers will hash it
                hashed = None
        answer: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        self._enqueue((submission, hashed, False, answer))
        # A client that hangs up cancels its wait, not the batch: its item is stored regardless,
        # and a retry with the same item_id finds it.
        return await answer

    def _enqueue(self, entry: _Entry) -> None:
        self._waiting.append(entry)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())

    async def _confirm(self, entry: _Entry) -> None:
        """Hash an upload again in exact mode (a fast candidate lay near a limit), then queue it
        to be written, decided by that hash; should the pool break, the workers hash it."""
        submission, _, _, answer = entry
        assert submission.data is not None
        try:
            hashed: Result | None = await self._hashing.hash(
                submission.data, exact=True, robust=self._matcher.robust
            )
        except TutelaError:
            hashed = None
        self._enqueue((submission, hashed, True, answer))

    def _settle(self, entry: _Entry, result: Accepted | BaseException | None) -> None:
        """Answer the entry's request, or (None: left out to be confirmed) hash it exactly."""
        if result is not None:
            _answer(entry[3], result)
            return
        task = asyncio.create_task(self._confirm(entry))
        self._confirming.add(task)
        task.add_done_callback(self._confirming.discard)

    def _hashes_inline(self, size: int) -> bool:
        return (
            size <= INLINE_MAX_BYTES
            and self._hashing.working
            and self._hashing.waiting < self._inline_limit
        )

    async def _write_all(self) -> None:
        while self._waiting:
            if self._hashing.waiting and len(self._waiting) < MAX_BATCH_ITEMS:
                # More uploads are being hashed and will be here within a hash's time: wait for
                # a few, so that they share a transaction.
                await asyncio.sleep(GATHER_S)
            batch = self._take_batch()
            try:
                results = await run_in_threadpool(self._store, batch)
            except Exception as error:
                if len(batch) == 1:
                    _answer(batch[0][3], error)
                    continue
                # One submission the database refused rolled back the whole batch: write each
                # alone, so that only it fails.
                for entry in batch:
                    try:
                        (result,) = await run_in_threadpool(self._store, [entry])
                    except Exception as alone:
                        self._settle(entry, alone)
                    else:
                        self._settle(entry, result)
                continue
            for entry, result in zip(batch, results, strict=True):
                self._settle(entry, result)

    def _store(self, batch: list[_Entry]) -> list[Accepted | None]:
        """Match what was hashed here, and the signals of hash-only submissions (against
        indicators as of now), then store the batch. None for an upload whose fast hash had a
        candidate near a limit: it is not stored yet (to be hashed in exact mode)."""
        if any(self._decides(submission, result) for submission, result, _, _ in batch):
            self._matcher.refresh()
        submissions: list[Submission | None] = []
        for submission, result, exact, _ in batch:
            if submission.outcome is not None or not self._decides(submission, result):
                submissions.append(submission)  # not under order, or left to the workers
                continue
            outcome = self._outcome(submission, result, exact)
            if outcome is not None:  # the basis as of now: it may have ended since `accept`
                outcome = gated(outcome, self.gate.decide(service_of(submission.metadata)))
            submissions.append(
                None if outcome is None else dataclasses.replace(submission, outcome=outcome)
            )
        stored = iter(
            accept_many(
                self._database,
                [s for s in submissions if s is not None],
                master_key=self._master_key,
            )
        )
        return [None if s is None else next(stored) for s in submissions]

    def _decides(self, submission: Submission, result: Result | None) -> bool:
        """Whether the submission is decided here: hashed here, or hash-only (nothing to hash)."""
        return result is not None or submission.signals is not None

    def _outcome(
        self, submission: Submission, result: Result | None, exact: bool
    ) -> Outcome | None:
        if result is not None:
            if exact:
                return outcome_of(self._matcher, result)
            return fast_outcome(self._matcher, result)
        given = submission.signals or {}
        return Outcome(given, find_matches(self._matcher, given))

    def _take_batch(self) -> list[_Entry]:
        batch = [self._waiting.popleft()]
        size = batch[0][0].size  # an upload hashed here may match, and then it is written too
        while self._waiting and len(batch) < MAX_BATCH_ITEMS:
            size += self._waiting[0][0].size
            if size > MAX_BATCH_BYTES:
                break
            batch.append(self._waiting.popleft())
        return batch


def _answer(answer: asyncio.Future[Accepted], outcome: Accepted | BaseException) -> None:
    """Settle a request's wait, unless its client hung up (the item is stored regardless)."""
    if answer.done():
        return
    if isinstance(outcome, BaseException):
        answer.set_exception(outcome)
    else:
        answer.set_result(outcome)
