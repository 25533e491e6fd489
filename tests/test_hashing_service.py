"""HashingService: one isolated hashing pool shared by many concurrent requests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from multiprocessing.connection import wait

import pytest

from hostile_files import hostile_cases
from provider_fixtures import drawn_image, jpeg
from tutela.detection.hasher import Hasher, Task
from tutela.detection.hashing_service import HashingService, Result
from tutela.errors import ConfigurationError, TutelaError
from tutela.media.isolation import Idle, Waitable
from tutela.media.limits import MediaLimits
from tutela.signals.hashing import MediaSignals

LIMITS = MediaLimits(decode_timeout_s=10)


async def hash_all(service: HashingService, files: list[bytes]) -> list[Result]:
    return list(await asyncio.gather(*(service.hash(data) for data in files)))


def test_concurrent_requests_get_their_own_file_s_signals() -> None:
    files = [jpeg(drawn_image(i)) for i in range(12)]
    with Hasher(LIMITS, workers=1) as hasher:
        expected = [hasher.hash_one(data) for data in files]
    with HashingService(Hasher(LIMITS, workers=2)) as service:
        results = asyncio.run(hash_all(service, files))
        assert service.waiting == 0
    for got, want in zip(results, expected, strict=True):
        assert isinstance(got, MediaSignals) and isinstance(want, MediaSignals)
        assert got.signals_dict() == want.signals_dict()


def test_a_hostile_file_costs_its_request_an_error_and_the_others_nothing() -> None:
    hostile = [case for case in hostile_cases() if case.expect != "hash"][:4]
    good = [jpeg(drawn_image(i)) for i in range(4)]
    with HashingService(Hasher(LIMITS, workers=2)) as service:
        results = asyncio.run(hash_all(service, [c.data for c in hostile] + good))
        after = asyncio.run(hash_all(service, [jpeg(drawn_image(9))]))
    for case, result in zip(hostile, results, strict=False):
        # A file that will not decode still has exact hashes: its error comes with them.
        error = result.error if isinstance(result, MediaSignals) else result
        assert isinstance(error, TutelaError) and error.code == case.expect, case.name
    assert all(isinstance(result, MediaSignals) for result in results[len(hostile) :])
    assert isinstance(after[0], MediaSignals)


class BreakingHasher:
    """A Hasher whose pool breaks at its first task, as when a process cannot be restarted."""

    def __enter__(self) -> BreakingHasher:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def hash_many(
        self, tasks: Iterable[Task | Idle], *, wake: Waitable | None = None
    ) -> Iterator[tuple[int, Result]]:
        for task in tasks:
            if not isinstance(task, Idle):
                raise ConfigurationError("a decoding worker failed to start")
            assert wake is not None
            wait([wake])  # as the pool does, until a task comes
        yield from ()


def test_a_broken_pool_fails_waiting_requests_and_refuses_new_ones() -> None:
    service = HashingService(BreakingHasher())  # type: ignore[arg-type]
    with service:
        with pytest.raises(ConfigurationError, match="failed to start"):
            asyncio.run(hash_all(service, [b"x"]))
        assert not service.working
        with pytest.raises(ConfigurationError):
            asyncio.run(hash_all(service, [b"y"]))
