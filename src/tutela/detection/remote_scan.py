"""The local scan's files that are fetched rather than opened (http(s) URLs of list files,
objects under s3:// prefixes): admitted as items a batch at a time, read through a SourceReader
within the limits, hashed and matched by the very function local files go through
(`decide_files`), and each verdict recorded as it comes. A video among them (known by its first
bytes) is streamed to a private file in the spool, never into memory, and hashed and matched as
the local scan hashes a video file (`decide_video_files`: vPDQ in an isolated process within the
video limits). A `tutela scan --ray` reads them the same way inside its tasks
(tutela.detection.ray_scan)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType

from tutela.db.database import Database
from tutela.detection.backlog import ScanResult, decide_files
from tutela.detection.bases import DetectionGate
from tutela.detection.hasher import Hasher
from tutela.detection.scan_batches import admit, item_views
from tutela.detection.scan_sources import ListedFile
from tutela.detection.source_files import SourceReader, SpooledVideo, read_jobs
from tutela.detection.verdicts import Outcome, gated, not_under_order, record_outcome
from tutela.detection.video_items import hash_video_task, video_outcome
from tutela.indicators.matcher import Matcher
from tutela.media.isolation import IsolatedPool
from tutela.media.limits import MediaLimits
from tutela.signals.hashing import MediaSignals

# Listed files admitted (one read, at most one insert) and hashed together.
BATCH = 256
# Where a listed video waits on disk, under the data directory, while it is hashed.
SCAN_SPOOL = "scan-spool"


class VideoHashing:
    """Listed videos, each hashed as it comes (`decide`) in an isolated process of their own,
    started at the first video and stopped on exit, with the video limits (time, memory, size),
    then matched as an uploaded video is; a spooled download is removed once hashed."""

    def __init__(self, matcher: Matcher, limits: MediaLimits) -> None:
        self._matcher = matcher
        self._limits = limits
        self._pool: IsolatedPool[str, MediaSignals] | None = None
        self.outcomes: list[tuple[int, Outcome]] = []

    def __enter__(self) -> VideoHashing:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.__exit__(kind, error, trace)
            self._pool = None

    def decide(self, item_id: int, video: SpooledVideo) -> None:
        """Hash and match one video now; its outcome joins `outcomes`."""
        try:
            if self._pool is None:
                limits = self._limits
                pool: IsolatedPool[str, MediaSignals] = IsolatedPool(
                    functools.partial(hash_video_task, limits=limits),
                    workers=1,
                    limits=limits,
                    timeout_of=lambda _: limits.video_timeout_s,
                )
                self._pool = pool.__enter__()
            for _, hashed in self._pool.map_unordered([str(video.path)]):
                self.outcomes.append((item_id, video_outcome(self._matcher, hashed)))
        finally:
            video.discard()


def decide_listed(
    hasher: Hasher,
    matcher: Matcher,
    reader: SourceReader,
    files: Sequence[tuple[int, str, int]],
    limits: MediaLimits,
    spool: Path,
    failed: list[tuple[int, Outcome]],
) -> Iterator[tuple[int, Outcome]]:
    """The outcome of each listed (item id, path or URL, size), before any detection basis:
    images hashed by `hasher` as `decide_files` does, videos streamed to `spool` and hashed as
    video files (`VideoHashing`); a file that cannot be read goes to `failed`."""
    with VideoHashing(matcher, limits) as videos:
        jobs = read_jobs(
            reader, files, limits, matcher.robust, failed, spool=spool, on_video=videos.decide
        )
        yield from decide_files(hasher, matcher, jobs)
        yield from videos.outcomes


def scan_fetched(
    database: Database,
    matcher: Matcher,
    hasher: Hasher,
    reader: SourceReader,
    batches: Iterable[Sequence[ListedFile]],
    limits: MediaLimits,
    spool: Path,
    *,
    service: str | None = None,
    gate: DetectionGate | None = None,
) -> Iterator[ScanResult]:
    """Each listed file's result, a batch at a time: decided ones skipped, the rest read,
    hashed and matched under the detection basis covering `service` (else no_match,
    not_under_order, unread), or given their read error. Videos wait in `spool` while hashed."""
    gate = gate or DetectionGate(database)
    metadata = {"source": "scan", **({"service": service} if service else {})}
    for batch in batches:
        admitted = admit(database, batch, metadata)
        views = item_views(database, [i for i, _ in admitted.done])
        for item_id, listed in admitted.done:
            yield ScanResult(listed.path, views[item_id], skipped=True)
        paths = {i: f.path for i, f in [*admitted.failed, *admitted.pending]}
        outcomes: list[tuple[int, Outcome]] = [
            (i, Outcome(None, [], f.error)) for i, f in admitted.failed if f.error is not None
        ]
        decision = gate.decide(service)
        if decision is None:
            # Art 7-11: nothing covers the service; no file is fetched, hashed or matched.
            outcomes += [(i, not_under_order()) for i, _ in admitted.pending]
        else:
            matcher.refresh()
            files = [(i, f.path, f.size) for i, f in admitted.pending]
            decided = decide_listed(hasher, matcher, reader, files, limits, spool, outcomes)
            for item_id, hashed in decided:
                yield _recorded(database, item_id, paths[item_id], gated(hashed, decision))
        for item_id, outcome in outcomes:
            yield _recorded(database, item_id, paths[item_id], outcome)


def _recorded(database: Database, item_id: int, path: str, outcome: Outcome) -> ScanResult:
    record_outcome(database, item_id, outcome)
    return ScanResult(path, item_views(database, [item_id])[item_id], skipped=False)
