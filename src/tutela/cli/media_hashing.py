"""Hashing images to bank them (`tutela bank add-media`, `tutela centre indicator confirm
--media`): each file in an isolated worker process, as `tutela hash` does (memory and time
limits; a hostile file kills a worker, not the command), into tutela.signals.media_indicator's
plain data. Run before the database is opened: the workers are forked from a process with no
other thread."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path

from tutela.cli.app import load_settings
from tutela.errors import TutelaError
from tutela.indicators.variants import Variants
from tutela.media.formats import is_video_file
from tutela.media.isolation import IsolatedPool
from tutela.media.limits import MediaLimits
from tutela.signals.media_indicator import (
    MEDIA_INDICATOR_MODULE,
    MediaIndicator,
    media_indicator,
)


def hashed_media(
    paths: list[Path], jobs: int | None = None
) -> Iterator[tuple[str, MediaIndicator | TutelaError]]:
    """(path, its hashes or the error that stopped them) for every file under `paths`."""
    settings = load_settings()
    files = list(expanded(paths))
    task = functools.partial(media_indicator, limits=settings.media)
    workers = min(jobs or os.cpu_count() or 1, max(1, len(files)))
    with IsolatedPool(
        task,
        workers=workers,
        limits=settings.media,
        timeout_of=functools.partial(_time_limit, limits=settings.media),
        preload=(MEDIA_INDICATOR_MODULE,),
        fork=True,
    ) as pool:
        yield from pool.map_unordered(files)


def expanded(paths: list[Path]) -> Iterator[str]:
    """The files named, and those under the directories named (recursively, sorted)."""
    for path in paths:
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs.sort()
                yield from (os.path.join(root, name) for name in sorted(names))
        else:
            yield str(path)


def _time_limit(path: str, limits: MediaLimits) -> float:
    # A video is refused unread (media_indicator), but gets a video's time all the same.
    return limits.video_timeout_s if is_video_file(path) else limits.decode_timeout_s


def media_variants(paths: list[Path]) -> dict[str, Variants]:
    """Each image's variants (its standard crops) by its own exact PDQ; the first file that is
    no usable image raises its error."""
    out: dict[str, Variants] = {}
    for path, result in hashed_media(paths):
        error = result.error if isinstance(result, MediaIndicator) else result
        if error is not None:
            raise type(error)(f"{path}: {error.message}")
        assert isinstance(result, MediaIndicator) and result.pdq is not None
        out[result.pdq] = result.variants
    return out
