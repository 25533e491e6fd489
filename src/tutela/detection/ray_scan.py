"""`tutela scan --ray`: a backlog scanned on a Ray cluster, decided and recorded as on the local cores.

    driver (tutela scan)                              Ray nodes
    directories walked and stat-ed here
    Ray Data: list files → lines (blocks)       ──▶   stat tasks: path, item id, size
    admit a batch: items found or made
    skip decided items; submit undecided ones   ──▶   decide_batch task: read (limits), hash in
                                                       an isolated process, confirm exactly,
                                                       match against the mapped snapshot
    record_outcomes of every finished task (one transaction, guarded by item status)  ◀──

The per-file work is `tutela.detection.backlog.decide_files`, the very function the local scan
runs, wrapped: each Ray worker process keeps a Hasher (an IsolatedPool: a hostile file costs one
hashing process, killed at its time or memory limit, and gives a typed error verdict; the Ray
worker itself never decodes) and a Matcher loaded from the matcher snapshot directory, whose
indices are memory-mapped: every worker on a node shares the same pages, and a task is sent the
snapshot's path, never the arrays. The driver writes a current snapshot before it starts, so a
node replays no changes; each task refreshes its matcher (one query), as the pipeline does per
batch. Ray nodes therefore need the snapshot directory at the same path (a shared file system, or
`tutela bank snapshot` run there) and read access to the database; only the driver writes. Listed
URLs and S3 objects are fetched inside the task (tutela.detection.source_files), by the node
that hashes them; the objects under an s3:// prefix are listed by the driver, page by page.

A task is run again by Ray when its worker process or node dies (TASK_RETRIES times, elsewhere
when the node is gone); an error raised in it (the snapshot unreadable, the hashing processes not
starting) is never retried and stops the scan. Items of a task that failed for good stay
undecided; the next run decides them, and skips every item decided already.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tutela.db.database import Database
from tutela.db.engine import create_engine_from
from tutela.detection.backlog import ScanResult
from tutela.detection.bases import DetectionGate
from tutela.detection.hasher import Hasher
from tutela.detection.remote_scan import SCAN_SPOOL, decide_listed
from tutela.detection.scan_batches import ADMIT_BATCH, ScanProgress, admit, item_views
from tutela.detection.scan_sources import ListedFile, Shard, Sources, look_at
from tutela.detection.source_files import DEFAULT_ACCESS, SourceAccess, SourceReader
from tutela.detection.verdicts import Outcome, gated, not_under_order, record_outcomes
from tutela.errors import ConfigurationError, TutelaError
from tutela.indicators.matcher import Matcher
from tutela.indicators.matcher_snapshot import snapshot_seq
from tutela.media.limits import MediaLimits
from tutela.settings import Settings

# Files per decide_batch task: enough that a task's overhead (scheduling, a refresh query, the
# result's transfer) is small beside hashing them, few enough that a lost node costs little.
TASK_FILES = 32
# Lines of a list file per Ray Data block (one stat task each): a task costs milliseconds of
# scheduling and a stat microseconds, so a block is thousands of lines.
LIST_BLOCK = 4096
# Finished tasks whose verdicts are recorded in one transaction, at most: a transaction costs
# about as much as tens of files' verdicts, and those of the tasks that finished while the
# driver was busy are written together.
RECORD_TASKS = 8
# Tasks submitted and not collected, per CPU of the cluster: enough to keep every CPU busy
# while the driver records a finished batch.
IN_FLIGHT_PER_CPU = 2
# The CPU a listing (stat) task asks Ray for.
LISTING_CPUS = 0.1
# How often Ray runs a task again whose worker process or node died (a system failure); an
# exception raised in the task is not retried.
TASK_RETRIES = 3


@dataclass(frozen=True, slots=True)
class NodeContext:
    """What a Ray task needs to decide files on any node, by reference: the database's URL, the
    data and snapshot directories' paths, the media limits. Small and hashable: the key of each
    worker process's Hasher and Matcher."""

    database_url: str
    data_dir: str
    snapshot_dir: str
    limits: MediaLimits
    # How listed URLs and S3 objects are fetched (a node reads them itself).
    access: SourceAccess = DEFAULT_ACCESS


@dataclass
class _NodeState:
    database: Database
    matcher: Matcher
    hasher: Hasher
    reader: SourceReader
    lock: threading.Lock


_STATES: dict[NodeContext, _NodeState] = {}
_STATES_LOCK = threading.Lock()


def _node_state(context: NodeContext) -> _NodeState:
    """This worker process's Hasher and Matcher for `context`, made at its first task."""
    with _STATES_LOCK:
        state = _STATES.get(context)
        if state is not None:
            return state
        settings = Settings(data_dir=Path(context.data_dir), database_url=context.database_url)
        database = Database(create_engine_from(settings), data_dir=Path(context.data_dir))
        matcher = Matcher(database, snapshot_dir=Path(context.snapshot_dir))
        matcher.load()
        hasher = Hasher(context.limits, workers=1)
        hasher.__enter__()
        atexit.register(hasher.__exit__, None, None, None)
        reader = SourceReader(context.access)
        atexit.register(reader.close)
        state = _NodeState(database, matcher, hasher, reader, threading.Lock())
        _STATES[context] = state
        return state


def decide_batch(
    context: NodeContext, files: Sequence[tuple[int, str, int]]
) -> list[tuple[int, Outcome]]:
    """Inside a Ray task: the outcome of each (item id, path or URL, size), before any detection
    basis; a file over the limit, gone since it was listed or failing to download gets its
    error. A video is hashed as the local scan hashes one (vPDQ, in an isolated process of its
    own within the video limits), a download of one spooled under the data directory."""
    state = _node_state(context)
    outcomes: list[tuple[int, Outcome]] = []
    spool = Path(context.data_dir) / SCAN_SPOOL
    with state.lock:  # one hashing process per worker: its tasks take turns
        state.matcher.refresh()
        outcomes += decide_listed(
            state.hasher, state.matcher, state.reader, files, context.limits, spool, outcomes
        )
    return outcomes


def _look_at_batch(batch: dict[str, np.ndarray], cwd: str, shard: Shard) -> dict[str, np.ndarray]:
    """Ray Data: lines of the scan's share → listed files (path, item id, size, error code and
    message); relative paths are the driver's (`cwd`)."""
    lines = [str(line).strip() for line in batch["text"]]
    listed = [look_at(line, cwd) for line in lines if line and shard.holds(line, cwd)]
    return {
        "path": np.array([f.path for f in listed], dtype=object),
        "key": np.array([f.key for f in listed], dtype=object),
        "size": np.array([f.size for f in listed], dtype=np.int64),
        "error_code": np.array([(f.error or {}).get("code", "") for f in listed], dtype=object),
        "error_message": np.array(
            [(f.error or {}).get("message", "") for f in listed], dtype=object
        ),
    }


def _listed(batch: dict[str, np.ndarray]) -> list[ListedFile]:
    files = []
    for path, key, size, code, message in zip(
        batch["path"],
        batch["key"],
        batch["size"],
        batch["error_code"],
        batch["error_message"],
        strict=True,
    ):
        error = {"code": str(code), "message": str(message)} if code else None
        files.append(ListedFile(str(path), str(key), int(size), error))
    return files


class RayScan:
    """The driver of a scan on Ray (connected by the caller: `connect`). `results()` yields
    each file's ScanResult as its batch is recorded; `progress` says how far it is."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        sources: Sources,
        *,
        service: str | None = None,
        progress: ScanProgress | None = None,
    ) -> None:
        self._database = database
        self._settings = settings
        self._sources = sources
        self._service = service
        self._metadata = {"source": "scan", **({"service": service} if service else {})}
        self.progress = progress or ScanProgress()
        self._gate = DetectionGate(database)
        # Items of the tasks in flight: a file listed again meanwhile is not sent twice.
        self._busy: set[int] = set()

    def results(self) -> Iterator[ScanResult]:
        import ray

        matcher = _current_snapshot(self._database)
        access = SourceAccess.of(self._settings)
        context = NodeContext(
            database_url=self._settings.sqlalchemy_url,
            data_dir=str(Path(self._settings.data_dir).resolve()),
            snapshot_dir=str(matcher.snapshot_dir),
            limits=self._settings.media,
            access=access,
        )
        remote = ray.remote(decide_batch).options(
            num_cpus=1, max_retries=TASK_RETRIES, retry_exceptions=False
        )
        in_flight: dict[Any, list[tuple[int, ListedFile]]] = {}
        cpus = ray.cluster_resources().get("CPU", 1)  # type: ignore[no-untyped-call]
        limit = max(1, int(cpus) * IN_FLIGHT_PER_CPU)
        reader = SourceReader(access)
        try:
            for listed in self._batches(reader):
                admitted = admit(self._database, listed, self._metadata)
                yield from self._views(admitted.done, skipped=True)
                failed = [(i, Outcome(None, [], f.error)) for i, f in admitted.failed]
                yield from self._record(failed, {i: f for i, f in admitted.failed}, gate=False)
                pending = [(i, f) for i, f in admitted.pending if i not in self._busy]
                if self._gate.decide(self._service) is None:
                    # Art 7-11: nothing covers the service; no file is read, hashed or matched.
                    outcomes = [(i, not_under_order()) for i, _ in pending]
                    yield from self._record(outcomes, dict(pending), gate=False)
                    continue
                for start in range(0, len(pending), TASK_FILES):
                    chunk = pending[start : start + TASK_FILES]
                    files = [(i, f.path, f.size) for i, f in chunk]
                    in_flight[remote.remote(context, files)] = chunk
                    self._busy.update(i for i, _ in chunk)
                    while len(in_flight) >= limit:
                        yield from self._collect(in_flight)
            while in_flight:
                yield from self._collect(in_flight)
        finally:
            reader.close()
            for ref in in_flight:
                ray.cancel(ref, force=True)

    def _batches(self, reader: SourceReader) -> Iterator[list[ListedFile]]:
        """The listed files in batches of up to ADMIT_BATCH: the directories' walked and stat-ed
        here (a stat costs microseconds; a Ray task per block of entries cost the CPUs far more
        than it spared the driver), the list files' through Ray Data, then the objects under each
        s3:// prefix, listed here page by page."""
        walked = list(self._sources.walked())
        if not self._sources.list_files and not self._sources.prefixes:
            self.progress.total = len(walked)
        cwd = os.getcwd()
        for start in range(0, len(walked), ADMIT_BATCH):
            yield [look_at(path, cwd) for path in walked[start : start + ADMIT_BATCH]]
        listing = _listing(self._sources)
        if listing is not None:
            for batch in listing.iter_batches(batch_size=ADMIT_BATCH, batch_format="numpy"):
                yield _listed(batch)
        for page in self._sources.objects(reader.s3()):
            for start in range(0, len(page), ADMIT_BATCH):
                yield page[start : start + ADMIT_BATCH]

    def _collect(self, in_flight: dict[Any, list[tuple[int, ListedFile]]]) -> Iterator[ScanResult]:
        """Wait for a task to finish; record its verdicts and those of the other tasks finished
        by then (up to RECORD_TASKS) in one transaction."""
        import ray

        ready, rest = ray.wait(list(in_flight), num_returns=1)
        if rest:
            more = min(len(rest), RECORD_TASKS - 1)
            ready += ray.wait(rest, num_returns=more, timeout=0)[0]
        outcomes: list[tuple[int, Outcome]] = []
        files: dict[int, ListedFile] = {}
        failure: TutelaError | None = None
        for ref in ready:
            chunk = in_flight.pop(ref)
            self._busy.difference_update(i for i, _ in chunk)
            try:
                outcomes += self._outcomes(ref, chunk)
            except TutelaError as error:
                failure = failure or error
            files.update(chunk)
        yield from self._record(outcomes, files, gate=True)
        if failure is not None:
            raise failure

    def _outcomes(self, ref: Any, chunk: list[tuple[int, ListedFile]]) -> list[tuple[int, Outcome]]:
        """A finished task's outcomes; none when its worker or node died more often than it is
        retried (its items stay undecided); an error raised in it stops the scan."""
        import ray
        from ray.exceptions import RayError, RayTaskError

        try:
            outcomes: list[tuple[int, Outcome]] = ray.get(ref)
        except RayTaskError as error:
            cause = error.cause
            if isinstance(cause, TutelaError):
                raise cause from None
            raise ConfigurationError(
                f"a scan task failed on a Ray node ({type(cause).__name__}); see its log"
            ) from None
        except RayError:
            self.progress.undecided += len(chunk)
            return []
        return outcomes

    def _record(
        self, outcomes: list[tuple[int, Outcome]], files: dict[int, ListedFile], *, gate: bool
    ) -> Iterator[ScanResult]:
        if not outcomes:
            return
        if gate:
            # The basis as of now (it may have ended since the scan began).
            decision = self._gate.decide(self._service)
            outcomes = [(i, gated(outcome, decision)) for i, outcome in outcomes]
        record_outcomes(self._database, outcomes)
        yield from self._views([(i, files[i]) for i, _ in outcomes], skipped=False)

    def _views(
        self, entries: list[tuple[int, ListedFile]], *, skipped: bool
    ) -> Iterator[ScanResult]:
        views = item_views(self._database, [i for i, _ in entries])
        for item_id, listed in entries:
            view = views[item_id]
            self.progress.add(view, skipped=skipped)
            yield ScanResult(listed.path, view, skipped=skipped)


def _current_snapshot(database: Database) -> Matcher:
    """The driver's matcher, its snapshot written afresh unless the one on disk is current."""
    matcher = Matcher(database)
    if matcher.snapshot_dir is None:
        raise ConfigurationError("a Ray scan needs a data directory for the matcher snapshot")
    matcher.load()
    if snapshot_seq(matcher.snapshot_dir) != matcher.seq:
        matcher.save_snapshot()
    return matcher


def _listing(sources: Sources) -> Any:
    """A Ray Dataset of the list files' listed files: their lines read by Ray Data in blocks of
    LIST_BLOCK, each block stat-ed in a task (None when there are no list files). List files and
    listed files must be at the same path on every node (a shared file system); listed URLs are
    fetched by the node that hashes them."""
    import ray.data

    if not sources.list_files:
        return None
    lines: Any = ray.data.read_text([str(Path(p).resolve()) for p in sources.list_files])
    return lines.map_batches(
        _look_at_batch,
        batch_size=LIST_BLOCK,
        batch_format="numpy",
        fn_kwargs={"cwd": os.getcwd(), "shard": sources.shard},
        # A stat per line costs next to no CPU: the listing must not hold the CPUs that the
        # hashing tasks wait for (a whole CPU each), nor wait for them.
        num_cpus=LISTING_CPUS,
    )


def connect(address: str | None, *, cpus: int | None) -> bool:
    """Join the Ray cluster at `address`, or start a local one with `cpus` CPUs when None;
    True when this process started it (and is to stop it). Ray's own progress bars and logs
    stay off the terminal: the scan shows its own."""
    import ray
    import ray.data

    if ray.is_initialized():
        return False
    options: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": logging.ERROR,
    }
    try:
        if address is None:
            ray.init(num_cpus=cpus, **options)
        else:
            ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise ConfigurationError(f"cannot reach the Ray cluster: {error}") from None
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    return True
