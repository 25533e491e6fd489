"""Group commit for `POST /v1/items`: submissions that arrive while a batch is being written wait
for the next one, and each batch is one transaction (tutela.detection.items.accept_many).

Durability is unchanged: a request is answered only after the commit of the batch holding it. Under
load, many uploads share one transaction and SQLite's single write lock is taken far less often;
alone, an upload is written at once, with no added wait.
"""

from __future__ import annotations

import asyncio
from collections import deque

from starlette.concurrency import run_in_threadpool

from tutela.db.database import Database
from tutela.detection.items import Accepted, Submission, accept_many

# Bounds on one transaction: rows, and payload bytes held in it (at least one upload always goes).
MAX_BATCH_ITEMS = 64
MAX_BATCH_BYTES = 32 * 1024 * 1024


class Intake:
    """One per app; `accept` may be awaited from any number of requests of its event loop."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._waiting: deque[tuple[Submission, asyncio.Future[Accepted]]] = deque()
        self._writer: asyncio.Task[None] | None = None

    async def accept(self, submission: Submission) -> Accepted:
        """Store the submission; return once it is committed."""
        answer: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        self._waiting.append((submission, answer))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        # A client that hangs up cancels its wait, not the batch: its item is stored regardless,
        # and a retry with the same item_id finds it.
        return await answer

    async def _write_all(self) -> None:
        while self._waiting:
            batch = self._take_batch()
            try:
                results = await run_in_threadpool(
                    accept_many, self._database, [submission for submission, _ in batch]
                )
            except Exception as error:  # every request of the batch answers with the failure
                for _, answer in batch:
                    if not answer.done():
                        answer.set_exception(error)
                continue
            for (_, answer), result in zip(batch, results, strict=True):
                if not answer.done():
                    answer.set_result(result)

    def _take_batch(self) -> list[tuple[Submission, asyncio.Future[Accepted]]]:
        batch = [self._waiting.popleft()]
        size = batch[0][0].size
        while self._waiting and len(batch) < MAX_BATCH_ITEMS:
            size += self._waiting[0][0].size
            if size > MAX_BATCH_BYTES:
                break
            batch.append(self._waiting.popleft())
        return batch
