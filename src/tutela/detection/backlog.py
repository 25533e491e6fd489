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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from tutela.db.database import Database
from tutela.detection.bases import DetectionGate
from tutela.detection.hasher import Hasher, HashJob
from tutela.detection.items import ItemView, accept_local, find_item, get_item
from tutela.detection.models import ItemStatus
from tutela.detection.pipeline import Decider
from tutela.detection.verdicts import Outcome, gated, not_under_order, record_outcome
from tutela.detection.video_items import hash_video_task, video_outcome
from tutela.errors import MediaTooLarge, Unreadable
from tutela.indicators.matcher import Matcher
from tutela.media.formats import is_video_file
from tutela.media.isolation import IsolatedPool
from tutela.media.limits import MediaLimits
from tutela.signals.hashing import MediaSignals


@dataclass(frozen=True, slots=True)
class ScanResult:
    path: str
    item: ItemView
    skipped: bool

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "skipped": self.skipped, **self.item.as_dict()}


def scan_key(path: str) -> str:
    """The item id of a local file: the same file unchanged is the same item."""
    stat = os.stat(path)
    return f"scan:{os.path.abspath(path)}:{stat.st_size}:{stat.st_mtime_ns}"


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
    processes of their own, each within the video limits (size, duration, time)."""
    gate = gate or DetectionGate(database)
    metadata = {"source": "scan", **({"service": service} if service else {})}
    pending: dict[int, str] = {}
    for path in paths:
        try:
            key = scan_key(path)
        except OSError as error:
            raise Unreadable(f"cannot read {path}: {error.strerror}") from None
        found = find_item(database, key)
        if found is not None and found.status == ItemStatus.DONE:
            yield ScanResult(path, get_item(database, found.id), skipped=True)
            continue
        accepted = found or accept_local(database, key, {"item_id": key, **metadata})
        pending[accepted.id] = path
    if gate.decide(service) is None:
        # Art 7-11: nothing covers the service; no file is read, hashed or matched.
        for item_id, path in pending.items():
            record_outcome(database, item_id, not_under_order())
            yield ScanResult(path, get_item(database, item_id), skipped=False)
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
        outcome = gated(hashed, gate.decide(service))
        record_outcome(database, item_id, outcome)
        yield ScanResult(pending[item_id], get_item(database, item_id), skipped=False)
    for item_id in _too_large(pictures, limits):
        too_large = MediaTooLarge(f"the file is over the limit of {limits.max_bytes} bytes")
        record_outcome(database, item_id, Outcome(None, [], too_large.as_dict()))
        yield ScanResult(pending[item_id], get_item(database, item_id), skipped=False)


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
