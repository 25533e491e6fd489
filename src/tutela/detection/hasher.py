"""Hashing of uploaded bytes in isolated worker processes (never in the API or worker itself)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Iterator
from typing import Self

from tutela.errors import TutelaError
from tutela.media.isolation import IsolatedPool
from tutela.media.limits import MediaLimits
from tutela.signals.hashing import MediaSignals, hash_media
from tutela.signals.pdq import PdqMode

Task = tuple[int, bytes]


def hash_task(task: Task, *, limits: MediaLimits, robust: bool = False) -> MediaSignals:
    """Runs inside a sub-worker: all signals of one upload, with the eight dihedral PDQs (and
    the robust query variants when `robust`: some enabled bank matches them)."""
    return hash_media(task[1], mode=PdqMode.FAST, limits=limits, dihedral=True, robust=robust)


class Hasher:
    """An IsolatedPool of `workers` processes; `hash_many` may be called from several threads."""

    def __init__(self, limits: MediaLimits, *, workers: int, robust: bool = False) -> None:
        self._pool: IsolatedPool[Task, MediaSignals] = IsolatedPool(
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

    def hash_many(self, tasks: Iterable[Task]) -> Iterator[tuple[int, MediaSignals | TutelaError]]:
        """Yield (key, signals or error) as each finishes; a hostile file costs one sub-worker."""
        with self._lock:
            for (key, _), result in self._pool.map_unordered(tasks):
                yield key, result
