"""Hostile and broken videos (tests/hostile_videos.py), each hashed in an isolated worker within
`HOSTILE_LIMITS`: each gives its documented error code or hash, within its time limit, and the
same pool hashes a good video right after it (the node keeps serving)."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostile_videos import CASES, HASH, HOSTILE_LIMITS, TRUNCATED, VideoCase
from tutela.errors import MEDIA_ERRORS_BY_CODE, TutelaError
from tutela.media.isolation import IsolatedPool
from tutela.signals.file_summary import HASHING_MODULE, FileSummary, summarise_file
from video_files import picture, slideshow

# A case's answer comes within its video time limit, and then some for the worker's replacement.
SLACK_S = 15.0


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("hostile-videos")
    work = tmp_path_factory.mktemp("encoding")
    paths = {}
    for case in CASES:
        path = directory / case.name
        path.write_bytes(case.build(work))
        paths[case.name] = path
    good = slideshow(directory / "good.mp4", [picture(1), picture(2)], 1)
    paths["good.mp4"] = good
    return paths


@pytest.fixture(scope="module")
def pool() -> Iterator[IsolatedPool[str, FileSummary]]:
    task = functools.partial(summarise_file, exact=False, dihedral=False, limits=HOSTILE_LIMITS)
    with IsolatedPool(
        task,
        workers=1,
        limits=HOSTILE_LIMITS,
        timeout_of=lambda _path: HOSTILE_LIMITS.video_timeout_s,
        preload=(HASHING_MODULE,),
    ) as opened:
        yield opened


def test_corpus_has_twenty_cases_with_unique_names_and_known_codes() -> None:
    assert len(CASES) >= 20
    assert len({case.name for case in CASES}) == len(CASES)
    assert {case.expect for case in CASES} <= {HASH, *MEDIA_ERRORS_BY_CODE}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_hostile_video_gets_its_code_and_the_worker_goes_on(
    case: VideoCase, corpus: dict[str, Path], pool: IsolatedPool[str, FileSummary]
) -> None:
    hostile, good = str(corpus[case.name]), str(corpus["good.mp4"])
    started = time.monotonic()
    results = dict(pool.map_unordered([hostile, good]))
    assert time.monotonic() - started < HOSTILE_LIMITS.video_timeout_s + SLACK_S
    result = results[hostile]
    code = result.code if isinstance(result, TutelaError) else (result.error or _Hashed()).code
    assert code == case.expect, result
    if isinstance(result, FileSummary):
        assert len(str(result.error or "")) < 300  # short, and never the file's bytes
        if case.expect == TRUNCATED:  # the frames up to the cut are hashed, and say so
            assert result.video_frames and result.video_frames > 0
            vpdq = result.signals["vpdq"]
            assert isinstance(vpdq, dict) and vpdq["truncated"] is True
        elif case.expect == HASH and result.video_frames is not None:
            vpdq = result.signals["vpdq"]
            assert isinstance(vpdq, dict) and vpdq["truncated"] is False
    after = results[good]
    assert isinstance(after, FileSummary) and after.error is None and after.video_frames == 2


class _Hashed:
    code = HASH
