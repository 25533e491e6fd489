"""Video uploads: hashed from the file they were streamed to, in an isolated process, and matched
(vPDQ against video banks, each sampled frame against image banks, the exact hashes as any
upload's); the item holds its signals (the vPDQ frames, and the file's MD5/SHA-1/SHA-256), and its
matches the matched frames' times.

The detection workers do this for queued uploads (tutela.detection.video_queue), with the memory
cap of every hashing process and `video_timeout_s` as the time limit: a hostile file costs that
process, never the API or the worker. The file is read from disk by the decoder and by the exact
hashes, chunk by chunk; it is never in memory whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tutela.detection.item_metadata import ITEM_REF_MAX, check_identifier, check_metadata
from tutela.detection.items import Submission
from tutela.detection.verdicts import Outcome
from tutela.errors import TutelaError
from tutela.indicators.matcher import Matcher, MatchResult
from tutela.media.limits import MediaLimits
from tutela.signals.hashing import MediaSignals, hash_video_file
from tutela.signals.pdq import PdqMode
from tutela.signals.vpdq import parse_vpdq

EXACT_SIGNALS = ("md5", "sha1", "sha256")


def hash_video_task(path: str, *, limits: MediaLimits) -> MediaSignals:
    """Runs inside the worker process: the video's vPDQ (fast mode) and exact hashes."""
    return hash_video_file(path, mode=PdqMode.FAST, limits=limits)


def video_outcome(matcher: Matcher, hashed: MediaSignals | TutelaError) -> Outcome:
    """Every match of a hashed video, review bands included (policy sorts them out); a media
    error is kept, and the exact hashes of an undecodable file still match."""
    if isinstance(hashed, TutelaError):
        return Outcome(signals=None, matches=[], error=hashed.as_dict())
    matcher.refresh()  # bank changes committed before this upload count
    stored: dict[str, Any] = hashed.signals_dict()
    matches = video_matches(matcher, hashed, include_review=True)
    error = hashed.error.as_dict() if hashed.error is not None else None
    return Outcome(signals=stored, matches=matches, error=error)


def video_matches(
    matcher: Matcher, hashed: MediaSignals, *, include_review: bool = True
) -> list[MatchResult]:
    """The matches of a hashed video, as uploads, scans, `tutela match` and `POST /v1/match`
    all find them: its exact hashes, then its vPDQ (banked videos by vPDQ's shares and each
    bank's thresholds, and each sampled frame against banked images, with its time)."""
    matches: list[MatchResult] = []
    for name, value in zip(EXACT_SIGNALS, (hashed.md5, hashed.sha1, hashed.sha256), strict=True):
        matches += matcher.match_hashes(name, [value], include_review=include_review)[0]
    if hashed.vpdq is not None:
        matches += matcher.match_video(hashed.vpdq.frames, include_review=include_review)
    return matches


def vpdq_matches(matcher: Matcher, text: str, *, include_review: bool = True) -> list[MatchResult]:
    """The matches of a vPDQ hash given as text (either form tutela.signals.vpdq reads); a
    malformed one raises InvalidHash naming its first bad frame."""
    return matcher.match_video(parse_vpdq(text), include_review=include_review)


def video_submission(
    item_ref: str,
    metadata: Mapping[str, Any],
    *,
    sha256: str,
    platform: str,
    spool_path: str,
) -> Submission:
    """A video upload queued for the workers with its spooled file (relative to the data
    directory), identified by the file's SHA-256. The intake's gate may still decide it at once
    (a service under no order or voluntary basis)."""
    check_identifier(item_ref, "item_id", ITEM_REF_MAX)
    check_metadata(metadata)
    return Submission(
        item_ref, metadata, platform=platform, content_digest=sha256, spool_path=spool_path
    )
