"""The Matcher: enabled indicators held in memory indices, kept current by the change sequence.

`load()` starts from the snapshot in the data directory when there is a usable one and replays the
changes made since; otherwise it reads every indicator (columns straight from the driver into numpy
arrays). `refresh()` applies only what changed since (adds, removals, disables, banks created,
switched, re-tuned or deleted) without rebuilding; `match_hashes()` answers with each bank's threshold; `save_snapshot()` writes
the snapshot (`tutela bank snapshot`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.errors import ConfigurationError, InvalidInput, TutelaError
from tutela.indicators.changes import Change, ChangeOp, changes_since, latest_seq
from tutela.indicators.matcher_entries import BankRule, EntryTable
from tutela.indicators.matcher_rows import (
    FETCH_ROWS,
    GatheredRows,
    RowQuery,
    cyclic_gc_paused,
    driver_rows,
    enabled_now,
    enabled_rules,
    matchable,
    rule_of,
)
from tutela.indicators.matcher_snapshot import (
    MatcherState,
    SnapshotInfo,
    database_identity,
    read_matcher_snapshot,
    snapshot_directory,
    write_matcher_snapshot,
)
from tutela.indicators.matcher_variants import VariantSet, variant_set
from tutela.indicators.matcher_videos import FrameSet, frame_set
from tutela.indicators.matcher_view import MatcherView, MatchResult
from tutela.indicators.models import Bank
from tutela.indicators.variants import indexed_variants
from tutela.indicators.video_banks import VPDQ, video_frames
from tutela.matching import ExactIndex, PdqIndex
from tutela.signals.base import SignalType, hex_rows
from tutela.signals.pdq import PdqHash, PdqSignal
from tutela.signals.registry import get_signal_type
from tutela.signals.vpdq import VpdqFrame

__all__ = ["MatchResult", "Matcher", "SnapshotInfo", "count_matchable"]

log = logging.getLogger("tutela.matcher")

PDQ = PdqSignal.name
# Fast-mode PDQ stays within this many bits of exact on the accuracy harness's copies (the
# widest drift seen: bench/accuracy.py); a fast candidate this close to a threshold, either side,
# is decided by the exact hash instead (`match_pdq`).
CONFIRM_MARGIN = 8
# Past this many pending changes a fresh load is cheaper than re-reading each changed row.
RELOAD_AFTER_CHANGES = 200_000
# Signal types validated as bare hex of a fixed length (not overriding SignalType.validate),
# whose batches are decoded in one pass (Matcher.match_batch).
_PLAIN_HEX = getattr(SignalType.validate, "__func__", None)
CHANGE_PAGE = 50_000
ID_BATCH = 900  # under SQLite's historical 999-parameter limit
# Adding more PDQ indicators than this at once, their variants are found by reading every
# enabled bank's (few) variant rows rather than by id.
VARIANTS_BY_ID_UP_TO = 20 * ID_BATCH


class Matcher:
    """In-memory indices over the enabled indicators of enabled banks. Thread-safe: lookups
    take no lock and run in parallel (the index kernels release the GIL); they read the view
    last published (tutela.indicators.matcher_view), while loads and refreshes, one at a time,
    change the writer's own copy and publish it when done.

    The snapshot lives in `snapshot_dir`, by default `matcher-snapshot` in the database's data
    directory; `use_snapshot=False` makes `load()` always read the database.
    """

    def __init__(
        self,
        database: Database,
        *,
        clock: Clock | None = None,
        snapshot_dir: Path | None = None,
        use_snapshot: bool = True,
    ) -> None:
        self._database = database
        self._clock = clock or SystemClock()
        if snapshot_dir is None and database.data_dir is not None:
            snapshot_dir = snapshot_directory(database.data_dir)
        self._snapshot_dir = snapshot_dir
        self._use_snapshot = use_snapshot
        # Held by loads, refreshes and snapshot writes (the writer), never by lookups.
        self._lock = threading.RLock()
        self._view = MatcherView()
        self._loaded = False
        self._woke = False  # indicators woken since the last publish (no change row says so)
        self._loaded_from: str | None = None
        self._seq = 0
        self._rules: dict[int, BankRule] = {}
        # Which indexed indicator belongs to which bank and signal type, by indicator id.
        self._entries = EntryTable()
        # Indicators disabled until a time, to be woken when it passes.
        self._waiting: dict[int, datetime] = {}
        self._pdq = PdqIndex()
        self._exact: dict[str, ExactIndex] = {}
        # Video indicators' distinct frames, by indicator id (their codes are in self._pdq).
        self._videos: dict[int, FrameSet] = {}
        # PDQ indicators' variants, by indicator id (their codes are in self._pdq too).
        self._variants: dict[int, VariantSet] = {}

    @property
    def seq(self) -> int:
        """The last change sequence number applied (in the view lookups read)."""
        return self._view.seq

    @property
    def loaded_from(self) -> str | None:
        """Where the last load started: "snapshot" or "database" (None before any)."""
        return self._loaded_from

    @property
    def snapshot_dir(self) -> Path | None:
        return self._snapshot_dir

    def __len__(self) -> int:
        return len(self._view.entries)

    @property
    def robust(self) -> bool:
        """Whether some enabled bank matches robust query variants (worth hashing them)."""
        return self._view.robust

    def load(self, *, progress: Callable[[int], None] | None = None) -> None:
        """Bring in every matchable indicator: from the snapshot and the changes made since it
        when there is a usable one, else from the database (`progress(n)` after each n rows)."""
        with self._lock:
            if not (self._use_snapshot and self._load_snapshot()):
                self._load_database(progress)
            self._publish()

    def refresh(self) -> int:
        """Apply the changes since the last load or refresh; return how many were read."""
        if not self._loaded:
            self.load()
            return 0
        with self._lock:
            with self._database.reader() as session:
                seen, caught_up = self._follow(session)
            if not caught_up:
                self.load()
            elif seen or self._seq != self._view.seq or self._woke:
                self._publish()
            self._woke = False
        return seen

    def save_snapshot(self) -> SnapshotInfo:
        """Write what the Matcher holds now (loading first if it has not) as the snapshot.

        Lookups go on meanwhile; refreshes wait (seconds at millions of indicators).
        """
        if self._snapshot_dir is None:
            raise ConfigurationError("no data directory to keep the matcher snapshot in")
        with self._lock:
            if not self._loaded:
                self.load()
            with self._database.reader() as session:
                identity = database_identity(session, self._seq)
            # Writing folds the exact indices' recent digests in: into the writer's own copies.
            self._fork()
            state = MatcherState(
                self._seq,
                self._rules,
                self._entries,
                self._waiting,
                self._pdq,
                self._exact,
                video_codes=sum(len(frames) for frames in self._videos.values()),
                variants=self._variants,
            )
            return write_matcher_snapshot(self._snapshot_dir, state, identity)

    def match_hashes(
        self,
        signal_type: str,
        values: Sequence[str],
        dihedral_variants: Sequence[Sequence[str]] | None = None,
        *,
        include_review: bool = False,
    ) -> list[list[MatchResult]]:
        """Matches for each value, nearest first. For PDQ, `dihedral_variants` gives each value's
        eight rotated/flipped hashes (in DIHEDRAL_NAMES order) to search them all."""
        kind = get_signal_type(signal_type)
        canonical = [kind.validate(value) for value in values]
        if dihedral_variants is not None and len(dihedral_variants) != len(canonical):
            raise InvalidInput("give one set of dihedral variants per value")
        return self._view.match_hashes(signal_type, canonical, dihedral_variants, include_review)

    def match_batch(
        self, signal_type: str, values: Sequence[str], *, include_review: bool = False
    ) -> dict[int, list[MatchResult]]:
        """Matches of many hashes of one signal type, nearest first, by position in `values`; a
        position that matches nothing is absent (a batch is mostly misses, and a miss costs no
        Python object). The hashes are decoded in one pass when every one is bare hex of its
        type's length, else validated one by one (InvalidHash for the first bad one)."""
        kind = get_signal_type(signal_type)
        if getattr(kind.validate, "__func__", None) is not _PLAIN_HEX:
            # Not a plain hex signal type (vPDQ): validated and matched its own way.
            found = self.match_hashes(signal_type, values, include_review=include_review)
            return {position: matches for position, matches in enumerate(found) if matches}
        rows = hex_rows(values, kind.hex_length)
        if rows is None:
            canonical = "".join(kind.validate(value) for value in values)
            rows = np.frombuffer(bytes.fromhex(canonical), np.uint8).reshape(len(values), -1)
        return self._view.match_rows(signal_type, rows, include_review)

    def match_pdq(
        self, pdq: PdqHash, *, include_review: bool = False, margin: int = 0
    ) -> list[MatchResult] | None:
        """Matches of one query's PDQ: its dihedral variants (if hashed) against every bank, its
        robust variants (if hashed) against robust banks only, nearest first per variant.

        With `margin` (a fast-mode hash), candidates are sought `margin` bits beyond each
        bank's threshold (and review distance); when any lies within `margin` of one, either
        side, the answer is None: the caller hashes the query exactly and asks again with
        margin 0, so the answer equals exact mode's while most queries (no candidate) stay fast.
        Robust variants count the same way (in robust banks): exact mode makes them from the
        full decode, fast mode from the reduced one.

        PDQ's quality rule is applied here, for every caller: a query under MIN_MATCHABLE_QUALITY
        matches only within LOW_QUALITY_DISTANCE (and its bank's threshold; no review band, no
        robust variants), one under LOW_QUALITY_FLOOR matches nothing; with `margin`, a fast
        quality within QUALITY_MARGIN of either rule with any candidate answers None too."""
        return self._view.match_pdq(pdq, include_review, margin)

    def match_video(
        self, frames: Sequence[VpdqFrame], *, include_review: bool = False
    ) -> list[MatchResult]:
        """Matches of a video's frames (tutela.indicators.matcher_videos): banked videos by
        vPDQ's shares against each bank's thresholds, banked images by any frame within the
        bank's threshold (or review band); one index lookup per distinct matchable frame.
        Videos first, each list nearest first."""
        return self._view.match_video(frames, include_review)

    # -- publishing -----------------------------------------------------------------------------

    def _publish(self) -> None:
        """Make what the writer holds the view lookups read (one reference stored), and fork the
        writer's indices so that its next changes do not reach the view."""
        self._view = MatcherView(
            self._seq,
            dict(self._rules),
            self._entries,
            self._pdq,
            dict(self._exact),
            dict(self._videos),
            dict(self._variants),
        )
        self._fork()

    def _fork(self) -> None:
        """Indices of the writer's own that share arrays with the published view until changed."""
        self._entries = self._entries.fork()
        self._pdq = self._pdq.fork()
        self._exact = {name: index.fork() for name, index in self._exact.items()}

    # -- loading ------------------------------------------------------------------------------

    def _load_database(self, progress: Callable[[int], None] | None) -> None:
        started = time.perf_counter()
        with self._database.reader() as session:
            self._reset()
            self._loaded = True
            # The sequence number is read first: whatever commits after it is replayed by
            # refresh(), and replaying a change twice does no harm (rows are re-read).
            self._seq = latest_seq(session)
            self._rules = enabled_rules(session)
            rows = GatheredRows(self._rules)
            with cyclic_gc_paused():
                for chunk in driver_rows(session, enabled_now()):
                    rows.add(chunk)
                    if progress is not None:
                        progress(len(chunk))
            self._gather(session, matchable(disabled=True), rows)
            self._take(session, rows, build=True)
        self._loaded_from = "database"
        log.info(
            "matcher: %d indicators read from the database in %.1f s",
            len(self._entries),
            time.perf_counter() - started,
        )

    def _load_snapshot(self) -> bool:
        """Start from the snapshot and replay the changes since; False when it cannot be used."""
        directory = self._snapshot_dir
        if directory is None:
            return False
        started = time.perf_counter()
        try:
            with self._database.reader() as session:
                state = read_matcher_snapshot(directory, session)
                if state is None:
                    log.info("matcher: no snapshot in %s; reading every indicator", directory)
                    return False
                self._install(state)
                self._load_video_frames(session, state.video_codes)
                replayed, caught_up = self._follow(session)
                if not caught_up:
                    log.warning(
                        "matcher: the snapshot in %s is over %d changes behind; reading every "
                        "indicator (`tutela bank snapshot` writes a fresh one)",
                        directory,
                        RELOAD_AFTER_CHANGES,
                    )
                    return False
                self._reread_banks(session)
        except (TutelaError, ValueError, IndexError) as error:
            message = error.message if isinstance(error, TutelaError) else str(error)
            log.warning(
                "matcher: snapshot in %s not used (%s); reading every indicator", directory, message
            )
            return False
        except BaseException:
            self._reset()  # never left half-installed
            raise
        self._loaded_from = "snapshot"
        log.info(
            "matcher: %d indicators from the snapshot at change %d, %d changes replayed, in %.1f s",
            len(self._entries),
            state.seq,
            replayed,
            time.perf_counter() - started,
        )
        return True

    def _install(self, state: MatcherState) -> None:
        self._reset()
        self._loaded = True
        self._seq = state.seq
        self._rules = dict(state.rules)
        self._entries = state.entries
        self._waiting = dict(state.waiting)
        self._pdq = state.pdq
        self._exact = dict(state.exact)
        self._variants = dict(state.variants)

    def _load_video_frames(self, session: Session, expected_codes: int) -> None:
        """The frames of the snapshot's videos (their codes are in its PDQ index already)."""
        ids = self._entries.ids_of_type(VPDQ)
        self._videos = {
            ident: found
            for ident, frames in video_frames(session, ids).items()
            if len(found := frame_set(frames))
        }
        if len(self._videos) != len(ids) or expected_codes != sum(
            len(found) for found in self._videos.values()
        ):
            raise InvalidInput("its video indicators disagree with the database's")

    def _reread_banks(self, session: Session) -> None:
        """Take every bank's rule from the database, not the snapshot: a bank switched or
        changed in a way the change sequence does not carry is brought in line all the same."""
        fresh = enabled_rules(session)
        gone = set(self._rules) - set(fresh)
        new = set(fresh) - set(self._rules)
        self._rules = fresh
        for bank_id in sorted(gone):
            self._forget(self._entries.ids_of_bank(bank_id))
        for bank_id in sorted(new):
            self._index_rows(session, matchable(bank_id=bank_id))

    # -- following changes --------------------------------------------------------------------

    def _follow(self, session: Session) -> tuple[int, bool]:
        """Apply the changes after `seq`: (how many were read, whether all were applied; not
        when there were so many that a fresh load is cheaper)."""
        seen = 0
        while changes := changes_since(session, self._seq, limit=CHANGE_PAGE):
            seen += len(changes)
            if seen > RELOAD_AFTER_CHANGES:
                return seen, False
            self._apply(session, changes)
            self._seq = changes[-1].seq
        self._wake_expired(session)
        return seen, True

    def _apply(self, session: Session, changes: Sequence[Change]) -> None:
        bank_ids: set[int] = set()
        deleted_banks: set[int] = set()
        indicator_ids: set[int] = set()
        for change in changes:
            if change.op.startswith("bank_"):
                bank_ids.add(change.bank_id)
                if change.op is ChangeOp.BANK_DELETE:
                    deleted_banks.add(change.bank_id)
            elif change.indicator_id is not None:
                indicator_ids.add(change.indicator_id)
        indexed_whole = {
            bank_id
            for bank_id in sorted(bank_ids)
            if self._apply_bank(session, bank_id, deleted=bank_id in deleted_banks)
        }
        if indexed_whole:
            # A bank created (or enabled) and filled since the last refresh: its rows were all
            # just read, so its indicators' own changes need not be read again.
            indicator_ids = {
                change.indicator_id
                for change in changes
                if change.indicator_id is not None and change.bank_id not in indexed_whole
            }
        self._reread(session, indicator_ids)

    def _apply_bank(self, session: Session, bank_id: int, *, deleted: bool) -> bool:
        """Bring a bank in line with its row (created, switched, re-tuned or deleted); True when
        all its indicators were indexed afresh."""
        if deleted and bank_id in self._rules:
            # Its indicators went with it, without change rows of their own; and SQLite may
            # already have given its id to a new bank.
            self._rules.pop(bank_id)
            self._forget(self._entries.ids_of_bank(bank_id))
        bank = session.get(Bank, bank_id)
        was_loaded = bank_id in self._rules
        if bank is None or not bank.enabled:
            self._rules.pop(bank_id, None)
            if was_loaded:
                self._forget(self._entries.ids_of_bank(bank_id))
            return False
        self._rules[bank_id] = rule_of(bank)
        if was_loaded:
            return False
        self._index_rows(session, matchable(bank_id=bank_id))
        return True

    def _reread(self, session: Session, indicator_ids: Iterable[int]) -> None:
        """Bring these indicators in line with their rows: gone or disabled out, enabled in."""
        ids = sorted(indicator_ids)
        for start in range(0, len(ids), ID_BATCH):
            batch = ids[start : start + ID_BATCH]
            self._forget([i for i in batch if i in self._entries])
            for i in batch:
                self._waiting.pop(i, None)
            self._index_rows(session, matchable(ids=batch))

    def _wake_expired(self, session: Session) -> None:
        """Indicators whose `disabled_until` has passed come back without a change row."""
        now = self._clock.now()
        due = [ident for ident, until in self._waiting.items() if until <= now]
        if due:
            self._reread(session, due)
            self._woke = True

    # -- index bookkeeping ----------------------------------------------------------------------

    def _index_rows(self, session: Session, query: RowQuery) -> None:
        rows = GatheredRows(self._rules)
        self._gather(session, query, rows)
        self._take(session, rows, build=False)

    def _gather(self, session: Session, query: RowQuery, into: GatheredRows) -> None:
        """Rows that may carry `disabled_until`: those disabled now wait, the rest go `into`."""
        now = self._clock.now()
        for part in session.execute(query.execution_options(yield_per=FETCH_ROWS)).partitions():
            ready = []
            for row in part:
                if row.bank_id not in self._rules:
                    continue
                if row.disabled_until is not None and row.disabled_until > now:
                    self._waiting[row.id] = row.disabled_until
                    continue
                ready.append((row.id, row.bank_id, row.signal_type, row.value))
            into.add(ready)

    def _take(self, session: Session, rows: GatheredRows, *, build: bool) -> None:
        """Index what was gathered: `build` makes the PDQ index anew, else it is added to."""
        gathered = rows.arrays()
        if build and PDQ not in gathered:
            self._pdq = PdqIndex()
        # PDQ first: a build replaces the index, which videos' frames are then added to.
        for signal_type, (ids, bank_ids, digests) in sorted(
            gathered.items(), key=lambda item: item[0] != PDQ
        ):
            if signal_type == VPDQ:
                self._take_videos(session, ids, bank_ids)
                continue
            self._entries.put_many(ids, bank_ids, signal_type)
            if signal_type == PDQ:
                # Indicators' variants are further codes under their ids (matcher_variants).
                extra_ids, extra_codes = self._take_variants(session, ids, every=build)
                if len(extra_ids):
                    ids = np.concatenate([ids, extra_ids])
                    digests = np.concatenate([digests, extra_codes])
                if build:
                    self._pdq = PdqIndex.build(ids, digests)
                else:
                    self._pdq.add(ids, digests)
                continue
            index = self._exact.setdefault(signal_type, ExactIndex(digests.shape[1]))
            index.add(ids, digests)

    def _take_variants(
        self, session: Session, ids: np.ndarray, *, every: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """The variants of these PDQ indicators (`every`: a full load; read them all): kept by
        id, and their codes returned (ids, codes) for the PDQ index."""
        if every or len(ids) > VARIANTS_BY_ID_UP_TO:
            found = indexed_variants(session)
            wanted = set(ids.tolist())
            found = {ident: pair for ident, pair in found.items() if ident in wanted}
        else:
            found = indexed_variants(session, ids.tolist())
        code_ids, codes = [], []
        for ident, (value, variants) in sorted(found.items()):
            if not variants:
                continue
            kept = variant_set(value, variants)
            self._variants[ident] = kept
            code_ids.append(np.full(len(kept) - 1, ident, np.int64))
            codes.append(kept.codes[1:])
        if not code_ids:
            return np.zeros(0, np.int64), np.zeros((0, 32), np.uint8)
        return np.concatenate(code_ids), np.concatenate(codes)

    def _take_videos(self, session: Session, ids: np.ndarray, bank_ids: np.ndarray) -> None:
        """Video indicators: each one's distinct matchable frames into the PDQ index, under its
        id; a video with none (every frame below quality 50) cannot match and is left out."""
        found = video_frames(session, ids.tolist())
        kept_ids, kept_banks, code_ids, codes = [], [], [], []
        for ident, bank_id in zip(ids.tolist(), bank_ids.tolist(), strict=True):
            frames = frame_set(found.get(ident, ()))
            if not len(frames):
                continue
            self._videos[ident] = frames
            kept_ids.append(ident)
            kept_banks.append(bank_id)
            code_ids.append(np.full(len(frames), ident, np.int64))
            codes.append(frames.codes)
        if not kept_ids:
            return
        self._entries.put_many(np.array(kept_ids, np.int64), np.array(kept_banks, np.int64), VPDQ)
        self._pdq.add(np.concatenate(code_ids), np.concatenate(codes))

    def _forget(self, ids: list[int]) -> None:
        by_type: dict[str, list[int]] = {}
        for ident in ids:
            signal_type = self._entries.pop(ident)
            if signal_type is not None:
                by_type.setdefault(signal_type, []).append(ident)
        for signal_type, gone in by_type.items():
            array = np.array(gone, np.int64)
            if signal_type in (PDQ, VPDQ):
                self._pdq.remove(array)
                for ident in gone:
                    self._videos.pop(ident, None)
                    self._variants.pop(ident, None)
            elif signal_type in self._exact:
                self._exact[signal_type].remove(array)

    def _reset(self) -> None:
        self._loaded = False
        self._seq = 0
        self._rules = {}
        self._entries = EntryTable()
        self._waiting = {}
        self._pdq = PdqIndex()
        self._exact = {}
        self._videos = {}
        self._variants = {}


def count_matchable(database: Database) -> int:
    """About how many indicators a full load reads (to size a progress bar)."""
    with database.reader() as session:
        query = select(func.count()).select_from(enabled_now().subquery())
        return int(session.scalar(query) or 0)
