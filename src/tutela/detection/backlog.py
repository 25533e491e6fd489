"""Batch scanning of a backlog of files through the same pipeline functions as uploads.

Each file becomes an item keyed by path, size and modification time, so a re-run skips the files
already decided and picks up where an interrupted run stopped. As for uploads, a file with a fast
candidate near a threshold is decided by its exact hash, and robust variants are hashed when some
enabled bank is robust; a video is streamed from disk and matched as an uploaded video is (vPDQ
against video banks, each sampled frame against image banks).
"""

from __future__ import annotations

import functools
import itertools
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from tutela.db.database import Database
from tutela.detection.bases import DetectionGate
from tutela.detection.hasher import Hasher, HashJob
from tutela.detection.items import ItemView
from tutela.detection.pipeline import Decider
from tutela.detection.scan_batches import ADMIT_BATCH, admit, item_views
from tutela.detection.scan_sources import ListedFile, scan_key
from tutela.detection.verdicts import Outcome, gated, not_under_order, record_outcomes
from tutela.detection.video_items import hash_video_task, video_outcome
from tutela.errors import MediaTooLarge, Unreadable
from tutela.indicators.matcher import Matcher
from tutela.media.formats import is_video_file
from tutela.media.isolation import IsolatedPool
from tutela.media.limits import MediaLimits
from tutela.signals.hashing import MediaSignals

# Verdicts recorded in one transaction, at most, and the longest a verdict waits for others: a
# transaction per file cost the local scan about as much CPU as hashing the file.
RECORD_BATCH = 64
RECORD_WAIT_S = 1.0


@dataclass(frozen=True, slots=True)
class ScanResult:
    path: str
    item: ItemView
    skipped: bool

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "skipped": self.skipped, **self.item.as_dict()}


def scan_paths(
    database: Database,
    matcher: Matcher,
    hasher: Hasher,
    paths: Iterable[str],
    limits: MediaLimits,
    *,
    service: str | None = None,
    gate: DetectionGate | None = None,
    video_workers: int = 1,
) -> Iterator[ScanResult]:
    """Yield each file's result: already decided ones first (skipped), then the rest as decided.
    The files are of `service` (their items name it); they are hashed and matched only under
    an order or voluntary basis covering it (`gate`), else each is `no_match`, not_under_order.
    Videos (known by their first bytes) are hashed after the other files, by `video_workers`
    processes of their own, each within the video limits (size, duration, time). Items are
    found or made ADMIT_BATCH at a time, and verdicts recorded RECORD_BATCH at a time (one
    transaction each, guarded by item status): a scan killed meanwhile hashes at most one
    batch's files again when it resumes."""
    gate = gate or DetectionGate(database)
    metadata = {"source": "scan", **({"service": service} if service else {})}
    pending: dict[int, str] = {}
    remaining = iter(paths)
    while batch := list(itertools.islice(remaining, ADMIT_BATCH)):
        admitted = admit(database, [_listed(path) for path in batch], metadata)
        views = item_views(database, [i for i, _ in admitted.done])
        for item_id, listed in admitted.done:
            yield ScanResult(listed.path, views[item_id], skipped=True)
        pending.update((i, f.path) for i, f in admitted.pending)
    recorder = _Recorder(database, pending)
    if gate.decide(service) is None:
        # Art 7-11: nothing covers the service; no file is read, hashed or matched.
        for item_id in pending:
            yield from recorder.add(item_id, not_under_order())
        yield from recorder.flush()
        return
    matcher.refresh()
    videos = {i: path for i, path in pending.items() if is_video_file(path)}
    pictures = {i: path for i, path in pending.items() if i not in videos}
    jobs = _read(pictures, limits, robust=matcher.robust)
    decided = itertools.chain(
        decide_files(hasher, matcher, jobs),
        decide_video_files(matcher, videos, limits, workers=video_workers),
    )
    for item_id, hashed in decided:
        # A media error is kept in it; the basis is the one as of now (it may end meanwhile).
        yield from recorder.add(item_id, gated(hashed, gate.decide(service)))
    for item_id in _too_large(pictures, limits):
        too_large = MediaTooLarge(f"the file is over the limit of {limits.max_bytes} bytes")
        yield from recorder.add(item_id, Outcome(None, [], too_large.as_dict()))
    yield from recorder.flush()


def _listed(path: str) -> ListedFile:
    try:
        return ListedFile(path, scan_key(path))
    except OSError as error:
        raise Unreadable(f"cannot read {path}: {error.strerror}") from None


class _Recorder:
    """Outcomes recorded together, RECORD_BATCH at a time or after RECORD_WAIT_S, whichever
    comes first (a slow file does not hold the verdicts before it back for long)."""

    def __init__(self, database: Database, paths: Mapping[int, str]) -> None:
        self._database = database
        self._paths = paths
        self._outcomes: list[tuple[int, Outcome]] = []
        self._since = time.monotonic()

    def add(self, item_id: int, outcome: Outcome) -> Iterator[ScanResult]:
        self._outcomes.append((item_id, outcome))
        if len(self._outcomes) >= RECORD_BATCH or time.monotonic() - self._since >= RECORD_WAIT_S:
            yield from self.flush()

    def flush(self) -> Iterator[ScanResult]:
        outcomes, self._outcomes = self._outcomes, []
        self._since = time.monotonic()
        if not outcomes:
            return
        record_outcomes(self._database, outcomes)
        views = item_views(self._database, [i for i, _ in outcomes])
        for item_id, _ in outcomes:
            yield ScanResult(self._paths[item_id], views[item_id], skipped=False)


def decide_video_files(
    matcher: Matcher, videos: Mapping[int, str], limits: MediaLimits, *, workers: int = 1
) -> Iterator[tuple[int, Outcome]]:
    """(key, outcome) of each video file as it finishes: streamed from disk and hashed in an
    isolated process with the video time limit (a hostile one gives a media error), then matched
    as uploaded videos are (tutela.detection.video_items.video_outcome). No pool is started when
    there is no video."""
    if not videos:
        return
    paths = {path: key for key, path in videos.items()}
    pool: IsolatedPool[str, MediaSignals] = IsolatedPool(
        functools.partial(hash_video_task, limits=limits),
        workers=min(max(1, workers), len(paths)),
        limits=limits,
        timeout_of=lambda _: limits.video_timeout_s,
    )
    with pool:
        for path, hashed in pool.map_unordered(list(paths)):
            yield paths[path], video_outcome(matcher, hashed)


def decide_files(
    hasher: Hasher, matcher: Matcher, jobs: Iterable[HashJob]
) -> Iterator[tuple[int, Outcome]]:
    """The per-file work of a scan, on the local cores or in a Ray task (tutela.detection.
    ray_scan): each file hashed in an isolated process (a hostile one gives a media error),
    hashed again exactly when a fast candidate lies near a limit, and matched; (key, outcome)
    as each finishes, before any detection basis is applied."""
    decider = Decider(matcher)
    for key, result in hasher.hash_many(jobs, confirm=decider.needs_exact):
        yield key, decider.outcome(key, result)


def _read(pending: dict[int, str], limits: MediaLimits, *, robust: bool) -> Iterator[HashJob]:
    for item_id, path in pending.items():
        if os.path.getsize(path) > limits.max_bytes:
            continue
        with open(path, "rb") as handle:
            yield HashJob(item_id, handle.read(limits.max_bytes + 1), robust=robust)


def _too_large(pending: dict[int, str], limits: MediaLimits) -> list[int]:
    return [i for i, path in pending.items() if os.path.getsize(path) > limits.max_bytes]
