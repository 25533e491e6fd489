"""HashingService: one isolated hashing pool shared by many concurrent requests (the pool's own
behaviour with hostile tasks is tested in test_media_isolation)."""

from __future__ import annotations

import asyncio

from hostile_files import hostile_cases
from provider_fixtures import drawn_image, jpeg
from tutela.detection.hasher import Hasher
from tutela.detection.hashing_service import HashingService, Result
from tutela.errors import TutelaError
from tutela.media.limits import MediaLimits
from tutela.signals.hashing import MediaSignals

LIMITS = MediaLimits(decode_timeout_s=10)


async def hash_all(*batches: list[bytes]) -> list[Result]:
    """Hash each batch of files at once (one request each), batch after batch, on one service."""
    results: list[Result] = []
    async with HashingService(LIMITS, workers=2) as service:
        for files in batches:
            results += await asyncio.gather(*(service.hash(data) for data in files))
        assert service.waiting == 0 and service.working
    return results


def test_concurrent_requests_get_their_own_file_s_signals() -> None:
    files = [jpeg(drawn_image(i)) for i in range(12)]
    with Hasher(LIMITS, workers=1) as hasher:
        by_index = dict(hasher.hash_many(enumerate(files)))
        expected = [by_index[i] for i in range(len(files))]
    results = asyncio.run(hash_all(files))
    for got, want in zip(results, expected, strict=True):
        assert isinstance(got, MediaSignals) and isinstance(want, MediaSignals)
        assert got.signals_dict() == want.signals_dict()


def test_a_hostile_file_costs_its_request_an_error_and_the_others_nothing() -> None:
    hostile = [case for case in hostile_cases() if case.expect != "hash"][:4]
    good = [jpeg(drawn_image(i)) for i in range(4)]
    *results, after = asyncio.run(
        hash_all([c.data for c in hostile] + good, [jpeg(drawn_image(9))])
    )
    for case, result in zip(hostile, results, strict=False):
        # A file that will not decode still has exact hashes: its error comes with them.
        error = result.error if isinstance(result, MediaSignals) else result
        assert isinstance(error, TutelaError) and error.code == case.expect, case.name
    assert all(isinstance(result, MediaSignals) for result in results[len(hostile) :])
    assert isinstance(after, MediaSignals)
