"""One isolated hashing pool shared by every request of the API: `await service.hash(data)`.

The pool is driven by the API's event loop (tutela.media.isolation.LoopPool): files from many
requests keep every hashing process busy, with the next ones sent ahead, and each answer is read
by the loop as it comes, with no thread woken per file.
"""

from __future__ import annotations

import functools
from typing import Self

from tutela.detection.hasher import HashJob, Result, hash_task
from tutela.media.isolation import LoopPool
from tutela.media.limits import MediaLimits
from tutela.signals.hashing import MediaSignals

__all__ = ["HashingService", "Result"]


class HashingService:
    """`workers` isolated hashing processes for the requests of one event loop."""

    def __init__(self, limits: MediaLimits, *, workers: int) -> None:
        self._pool: LoopPool[HashJob, MediaSignals] = LoopPool(
            functools.partial(hash_task, limits=limits), workers=workers, limits=limits
        )

    async def __aenter__(self) -> Self:
        await self._pool.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._pool.__aexit__(*exc)

    @property
    def working(self) -> bool:
        """False once the pool broke (a hashing process could not be started again)."""
        return self._pool.working

    @property
    def waiting(self) -> int:
        """Uploads submitted and not yet answered (being hashed, or waiting for it)."""
        return self._pool.waiting

    async def hash(self, data: bytes, *, exact: bool = False, robust: bool = False) -> Result:
        """The upload's signals, or the media error its decoding gave (a hostile file costs one
        hashing process, replaced). Raises ConfigurationError if the pool itself broke.
        `exact`: PDQ in exact mode (to confirm a fast candidate near a threshold); `robust`:
        with the robust query variants."""
        return await self._pool.run(HashJob(0, data, exact=exact, robust=robust))
