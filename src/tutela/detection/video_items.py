"""Video uploads: hashed from the file they were streamed to, in an isolated worker, and matched
(vPDQ against video banks, each sampled frame against image banks, the exact hashes as any
upload's) before the item is stored with its verdict.

A video is hashed by a worker process of its own (started per video, with the memory cap of
every hashing process and `video_timeout_s` as its time limit): a hostile file costs that
process, never the API. The file is read from disk by the decoder and by the exact hashes, chunk
by chunk; it is never in memory whole. Its bytes are not kept: the item holds its signals (the
vPDQ frames, and the file's MD5/SHA-1/SHA-256), and its matches the matched frames' times.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tutela.detection.item_metadata import ITEM_ID_MAX, check_identifier, check_metadata
from tutela.detection.items import Submission
from tutela.detection.verdicts import Outcome
from tutela.errors import TutelaError, Unprocessable
from tutela.indicators.matcher import Matcher, MatchResult
from tutela.media.isolation import IsolatedPool
from tutela.media.limits import MediaLimits
from tutela.signals.hashing import MediaSignals, hash_video_file
from tutela.signals.pdq import PdqMode

EXACT_SIGNALS = ("md5", "sha1", "sha256")


def hash_video_task(path: str, *, limits: MediaLimits) -> MediaSignals:
    """Runs inside the worker process: the video's vPDQ (fast mode) and exact hashes."""
    return hash_video_file(path, mode=PdqMode.FAST, limits=limits)


def hash_video_isolated(path: Path, limits: MediaLimits) -> MediaSignals | TutelaError:
    """The video's signals, or the typed error its decoding (or its worker) ended with."""
    with IsolatedPool(
        functools.partial(hash_video_task, limits=limits),
        workers=1,
        limits=limits,
        timeout_of=lambda _: limits.video_timeout_s,
    ) as pool:
        for _, result in pool.map_unordered([str(path)]):
            return result
    return Unprocessable("the video's hashing process gave no answer")


def video_outcome(matcher: Matcher, hashed: MediaSignals | TutelaError) -> Outcome:
    """Every match of a hashed video, review bands included (policy sorts them out); a media
    error is kept, and the exact hashes of an undecodable file still match."""
    if isinstance(hashed, TutelaError):
        return Outcome(signals=None, matches=[], error=hashed.as_dict())
    matcher.refresh()  # bank changes committed before this upload count
    stored: dict[str, Any] = hashed.signals_dict()
    matches: list[MatchResult] = []
    for name in EXACT_SIGNALS:
        matches += matcher.match_hashes(name, [str(stored[name])], include_review=True)[0]
    if hashed.vpdq is not None:
        matches += matcher.match_video(hashed.vpdq.frames, include_review=True)
    error = hashed.error.as_dict() if hashed.error is not None else None
    return Outcome(signals=stored, matches=matches, error=error)


def video_submission(
    item_id: str,
    metadata: Mapping[str, Any],
    outcome: Outcome | None,
    *,
    sha256: str,
    platform: str,
) -> Submission:
    """A video upload decided here (`outcome`), identified by its file's SHA-256; None as the
    outcome leaves it to the intake's gate (a service under no order or voluntary basis)."""
    check_identifier(item_id, "item_id", ITEM_ID_MAX)
    check_metadata(metadata)
    return Submission(
        item_id, metadata, data=None, outcome=outcome, platform=platform, content_digest=sha256
    )
