"""One isolated hashing pool shared by every request of the API: `await service.hash(data)`.

The pool is driven by the API's event loop (tutela.media.isolation.LoopPool): files from many
requests keep every hashing process busy, with the next ones sent ahead, and each answer is read
by the loop as it comes, with no thread woken per file. Videos, on disk, go to processes of their
own with the video time limit (`hash_video`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from typing import Self

from tutela.detection.hasher import HashJob, Result, hash_task
from tutela.detection.video_items import hash_video_task
from tutela.media.isolation import LoopPool
from tutela.media.limits import MediaLimits
from tutela.signals.hashing import MediaSignals

__all__ = ["HashingService", "Result"]


class HashingService:
    """`workers` isolated hashing processes for the requests of one event loop, and up to
    `video_workers` more for videos streamed to disk (`hash_video`), started at the first."""

    def __init__(self, limits: MediaLimits, *, workers: int, video_workers: int = 1) -> None:
        self._pool: LoopPool[HashJob, MediaSignals] = LoopPool(
            functools.partial(hash_task, limits=limits), workers=workers, limits=limits
        )
        self._limits = limits
        self._video_workers = max(1, video_workers)
        self._video_pool: LoopPool[str, MediaSignals] | None = None
        self._video_start: asyncio.Lock | None = None

    async def __aenter__(self) -> Self:
        await self._pool.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._video_pool is not None:
            await self._video_pool.__aexit__(*exc)
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

    async def hash_video(self, path: str) -> Result:
        """The signals of the video file at `path` (its vPDQ and exact hashes, streamed from
        disk), or the error its hashing process gave; within the video limits, the time limit
        `video_timeout_s` included. Videos wait their turn for the video processes."""
        return await (await self._videos()).run(path)

    async def _videos(self) -> LoopPool[str, MediaSignals]:
        """The video pool, started by the first video (most nodes' API never sees one)."""
        if self._video_pool is not None:
            return self._video_pool
        if self._video_start is None:
            self._video_start = asyncio.Lock()
        async with self._video_start:
            if self._video_pool is None:
                # The pool's one time limit is the video one (LoopPool reads decode_timeout_s).
                limits = dataclasses.replace(
                    self._limits, decode_timeout_s=self._limits.video_timeout_s
                )
                pool: LoopPool[str, MediaSignals] = LoopPool(
                    functools.partial(hash_video_task, limits=self._limits),
                    workers=self._video_workers,
                    limits=limits,
                )
                await pool.__aenter__()
                self._video_pool = pool
        return self._video_pool
