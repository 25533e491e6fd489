"""Hashing of uploaded bytes in isolated worker processes (never in the API or worker itself).

A file is hashed in fast mode first. The caller may ask, for each fast result, that the file be
hashed again in exact mode (`hash_many(..., confirm=...)`): a PDQ candidate lies so near a bank's
threshold that fast mode's few bits of drift could decide it (tutela.detection.pipeline.Decider).
The exact hash is made in a hashing process too, and only then, so the common case stays fast.
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Self

from tutela.errors import TutelaError
from tutela.media.isolation import IsolatedPool
from tutela.media.limits import MediaLimits
from tutela.signals.hashing import MediaSignals, hash_media
from tutela.signals.pdq import PdqMode

Task = tuple[int, bytes]
Result = MediaSignals | TutelaError


@dataclass(frozen=True, slots=True)
class HashJob:
    """One file for a hashing process. `exact`: the full decode, hashed as the reference does
    (a fast candidate lay near a threshold); `robust`: the robust query variants too (some
    enabled bank matches them)."""

    key: int
    data: bytes
    exact: bool = False
    robust: bool = False


def hash_task(task: Task | HashJob, *, limits: MediaLimits, robust: bool = False) -> MediaSignals:
    """Runs inside a sub-worker: all signals of one upload, with the eight dihedral PDQs (and
    the robust query variants when the job, or `robust`, asks for them)."""
    job = task if isinstance(task, HashJob) else HashJob(task[0], task[1])
    mode = PdqMode.EXACT if job.exact else PdqMode.FAST
    return hash_media(
        job.data, mode=mode, limits=limits, dihedral=True, robust=job.robust or robust
    )


class Hasher:
    """An IsolatedPool of `workers` processes; `hash_many` may be called from several threads.
    `robust`: every file's robust variants are hashed (else as each HashJob says)."""

    def __init__(self, limits: MediaLimits, *, workers: int, robust: bool = False) -> None:
        self._pool: IsolatedPool[HashJob, MediaSignals] = IsolatedPool(
            functools.partial(hash_task, limits=limits, robust=robust),
            workers=workers,
            limits=limits,
        )
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        self._pool.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.__exit__(*exc)

    def hash_many(
        self,
        tasks: Iterable[Task | HashJob],
        *,
        confirm: Callable[[int, Result], bool] | None = None,
    ) -> Iterator[tuple[int, Result]]:
        """Yield (key, signals or error) as each finishes; a hostile file costs one sub-worker.

        `confirm(key, fast result)` True: the file is hashed again in exact mode, and that
        result is the one yielded (asked once per file; exact results are not asked about)."""
        with self._lock:
            again: deque[HashJob] = deque()
            source = iter(tasks)
            while True:
                for job, result in self._pool.map_unordered(_jobs(again, source)):
                    if not job.exact and confirm is not None and confirm(job.key, result):
                        again.append(HashJob(job.key, job.data, exact=True, robust=job.robust))
                        continue
                    yield job.key, result
                # The files ran out while some still had to be hashed exactly: those now.
                if not again:
                    return


def _jobs(again: deque[HashJob], source: Iterator[Task | HashJob]) -> Iterator[HashJob]:
    """Files to confirm exactly first (they hold up their batch), then the next of `source`."""
    while True:
        while again:
            yield again.popleft()
        try:
            task = next(source)
        except StopIteration:
            return
        yield task if isinstance(task, HashJob) else HashJob(task[0], task[1])
