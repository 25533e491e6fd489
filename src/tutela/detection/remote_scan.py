"""The local scan's files that are fetched rather than opened (http(s) URLs of list files,
objects under s3:// prefixes): admitted as items a batch at a time, read through a SourceReader
within the limits, hashed and matched by the very function local files go through
(`decide_files`), and each verdict recorded as it comes. A `tutela scan --ray` reads them the
same way inside its tasks (tutela.detection.ray_scan)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from tutela.db.database import Database
from tutela.detection.backlog import ScanResult, decide_files
from tutela.detection.bases import DetectionGate
from tutela.detection.hasher import Hasher
from tutela.detection.scan_batches import admit, item_views
from tutela.detection.scan_sources import ListedFile
from tutela.detection.source_files import SourceReader, read_jobs
from tutela.detection.verdicts import Outcome, gated, not_under_order, record_outcome
from tutela.indicators.matcher import Matcher
from tutela.media.limits import MediaLimits

# Listed files admitted (one read, at most one insert) and hashed together.
BATCH = 256


def scan_fetched(
    database: Database,
    matcher: Matcher,
    hasher: Hasher,
    reader: SourceReader,
    batches: Iterable[Sequence[ListedFile]],
    limits: MediaLimits,
    *,
    service: str | None = None,
    gate: DetectionGate | None = None,
) -> Iterator[ScanResult]:
    """Each listed file's result, a batch at a time: decided ones skipped, the rest read,
    hashed and matched under the detection basis covering `service` (else no_match,
    not_under_order, unread), or given their read error."""
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
            jobs = read_jobs(reader, files, limits, matcher.robust, outcomes)
            for item_id, hashed in decide_files(hasher, matcher, jobs):
                yield _recorded(database, item_id, paths[item_id], gated(hashed, decision))
        for item_id, outcome in outcomes:
            yield _recorded(database, item_id, paths[item_id], outcome)


def _recorded(database: Database, item_id: int, path: str, outcome: Outcome) -> ScanResult:
    record_outcome(database, item_id, outcome)
    return ScanResult(path, item_views(database, [item_id])[item_id], skipped=False)
