"""The Matcher: enabled indicators held in memory indices, kept current by the change sequence.

`load()` reads everything once; `refresh()` applies only what changed since (adds, removals,
disables, bank switches) without rebuilding; `match_hashes()` answers with each bank's threshold.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

import numpy as np
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from tutela.db.database import Database
from tutela.db.types import utc_now
from tutela.errors import InvalidInput
from tutela.indicators.changes import Change, changes_since, latest_seq
from tutela.indicators.models import Bank, Indicator
from tutela.matching import ExactIndex, PdqIndex
from tutela.signals.pdq import DIHEDRAL_NAMES, PdqSignal
from tutela.signals.registry import get_signal_type

PDQ = PdqSignal.name
PDQ_BYTES = PdqSignal.hex_length // 2
# Past this many pending changes a fresh load is cheaper than re-reading each changed row.
RELOAD_AFTER_CHANGES = 200_000
CHANGE_PAGE = 50_000
# Rows of (id, bank_id, signal_type, value, disabled_until).
RowQuery: TypeAlias = "Select[int, int, str, str, datetime | None]"
ID_BATCH = 900  # under SQLite's historical 999-parameter limit
FETCH_ROWS = 50_000


@dataclass(frozen=True, slots=True)
class MatchResult:
    bank: str
    indicator_id: int
    signal_type: str
    distance: int
    # Which dihedral variant of the query matched (PDQ with variants only).
    variant: str | None = None
    # True when the distance is past the bank's threshold but inside its review band.
    review: bool = False

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "bank": self.bank,
            "indicator_id": self.indicator_id,
            "signal_type": self.signal_type,
            "distance": self.distance,
        }
        if self.signal_type == PDQ:
            out["variant"] = self.variant or DIHEDRAL_NAMES[0]
        if self.review:
            out["review"] = True
        return out


@dataclass(frozen=True, slots=True)
class _BankRule:
    name: str
    pdq_threshold: int
    review_distance: int | None

    @property
    def radius(self) -> int:
        return max(self.pdq_threshold, self.review_distance or 0)


class Matcher:
    """In-memory indices over the enabled indicators of enabled banks. Thread-safe."""

    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._database = database
        self._clock = clock
        self._lock = threading.RLock()
        self._loaded = False
        self._seq = 0
        self._rules: dict[int, _BankRule] = {}
        # Which indexed indicator belongs to which bank and signal type, by indicator id.
        self._entries = _EntryTable()
        # Indicators disabled until a time, to be woken when it passes.
        self._waiting: dict[int, datetime] = {}
        self._pdq = PdqIndex()
        self._exact: dict[str, ExactIndex] = {}

    @property
    def seq(self) -> int:
        """The last change sequence number applied."""
        return self._seq

    def __len__(self) -> int:
        return len(self._entries)

    def load(self) -> None:
        """Read every matchable indicator afresh."""
        with self._lock, self._database.reader() as session:
            self._reset()
            self._loaded = True
            # The sequence number is read first: whatever commits after it is replayed by
            # refresh(), and replaying a change twice does no harm (rows are re-read).
            self._seq = latest_seq(session)
            self._rules = _enabled_rules(session)
            self._index_rows(session, _matchable(), build=True)

    def refresh(self) -> int:
        """Apply the changes since the last load or refresh; return how many were read."""
        if not self._loaded:
            self.load()
            return 0
        with self._lock, self._database.reader() as session:
            seen = 0
            while changes := changes_since(session, self._seq, limit=CHANGE_PAGE):
                seen += len(changes)
                if seen > RELOAD_AFTER_CHANGES:
                    break
                self._apply(session, changes)
                self._seq = changes[-1].seq
            self._wake_expired(session)
        if seen > RELOAD_AFTER_CHANGES:
            self.load()
        return seen

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
        with self._lock:
            if signal_type == PDQ:
                return self._match_pdq(canonical, dihedral_variants, include_review)
            if kind.perceptual:
                raise InvalidInput(f"matching {signal_type} is not supported")
            index = self._exact.get(signal_type)
            if index is None:
                return [[] for _ in canonical]
            found = index.query([bytes.fromhex(value) for value in canonical])
            return [self._exact_results(signal_type, ids) for ids in found]

    # -- matching -----------------------------------------------------------------------------

    def _match_pdq(
        self,
        values: list[str],
        variants: Sequence[Sequence[str]] | None,
        include_review: bool,
    ) -> list[list[MatchResult]]:
        if not self._rules or len(self._pdq) == 0:
            return [[] for _ in values]
        radius = max(
            rule.radius if include_review else rule.pdq_threshold for rule in self._rules.values()
        )
        if variants is None:
            hits = self._pdq.query(_codes(values), radius)
            found = [[(ident, dist, 0) for ident, dist in row] for row in hits]
        else:
            found = []
            for eight in variants:
                checked = [PdqSignal.validate(v) for v in eight]
                found.append(self._pdq.query_dihedral(_codes(checked), radius))
        return [self._pdq_results(row, include_review) for row in found]

    def _pdq_results(
        self, row: list[tuple[int, int, int]], include_review: bool
    ) -> list[MatchResult]:
        results = []
        for ident, distance, variant in row:
            rule = self._rules.get(self._entries.bank_of(ident))
            if rule is None:
                continue
            review = distance > rule.pdq_threshold
            if review and not (include_review and distance <= rule.radius):
                continue
            results.append(
                MatchResult(rule.name, ident, PDQ, distance, DIHEDRAL_NAMES[variant], review)
            )
        return results

    def _exact_results(self, signal_type: str, ids: list[int]) -> list[MatchResult]:
        results = []
        for ident in ids:
            rule = self._rules.get(self._entries.bank_of(ident))
            if rule is not None:
                results.append(MatchResult(rule.name, ident, signal_type, 0))
        return results

    # -- following changes --------------------------------------------------------------------

    def _apply(self, session: Session, changes: Sequence[Change]) -> None:
        bank_ids: set[int] = set()
        indicator_ids: set[int] = set()
        for change in changes:
            if change.op.startswith("bank_"):
                bank_ids.add(change.bank_id)
            elif change.indicator_id is not None:
                indicator_ids.add(change.indicator_id)
        for bank_id in sorted(bank_ids):
            self._apply_bank(session, bank_id)
        self._reread(session, indicator_ids)

    def _apply_bank(self, session: Session, bank_id: int) -> None:
        bank = session.get(Bank, bank_id)
        was_loaded = bank_id in self._rules
        if bank is None or not bank.enabled:
            self._rules.pop(bank_id, None)
            if was_loaded:
                self._forget(self._entries.ids_of_bank(bank_id))
            return
        self._rules[bank_id] = _rule(bank)
        if not was_loaded:
            self._index_rows(session, _matchable(bank_id=bank_id), build=False)

    def _reread(self, session: Session, indicator_ids: Iterable[int]) -> None:
        """Bring these indicators in line with their rows: gone or disabled out, enabled in."""
        ids = sorted(indicator_ids)
        for start in range(0, len(ids), ID_BATCH):
            batch = ids[start : start + ID_BATCH]
            self._forget([i for i in batch if i in self._entries])
            for i in batch:
                self._waiting.pop(i, None)
            self._index_rows(session, _matchable(ids=batch), build=False)

    def _wake_expired(self, session: Session) -> None:
        """Indicators whose `disabled_until` has passed come back without a change row."""
        now = self._clock()
        due = [ident for ident, until in self._waiting.items() if until <= now]
        if due:
            self._reread(session, due)

    # -- index bookkeeping ----------------------------------------------------------------------

    def _index_rows(self, session: Session, query: RowQuery, *, build: bool) -> None:
        now = self._clock()
        pdq_ids: list[int] = []
        pdq_values: list[str] = []
        exact: dict[str, tuple[list[int], list[str]]] = defaultdict(lambda: ([], []))
        for row in _stream(session, query):
            if row.bank_id not in self._rules:
                continue
            if row.disabled_until is not None and row.disabled_until > now:
                self._waiting[row.id] = row.disabled_until
                continue
            self._entries.put(row.id, row.bank_id, row.signal_type)
            if row.signal_type == PDQ:
                pdq_ids.append(row.id)
                pdq_values.append(row.value)
            else:
                ids, values = exact[row.signal_type]
                ids.append(row.id)
                values.append(row.value)
        if build:
            self._pdq = PdqIndex.build(np.array(pdq_ids, np.int64), _codes(pdq_values))
        elif pdq_ids:
            self._pdq.add(np.array(pdq_ids, np.int64), _codes(pdq_values))
        for signal_type, (ids, values) in exact.items():
            size = get_signal_type(signal_type).hex_length // 2
            index = self._exact.setdefault(signal_type, ExactIndex(size))
            digests = np.frombuffer(bytes.fromhex("".join(values)), np.uint8).reshape(-1, size)
            index.add(np.array(ids, np.int64), digests)

    def _forget(self, ids: list[int]) -> None:
        by_type: dict[str, list[int]] = defaultdict(list)
        for ident in ids:
            signal_type = self._entries.pop(ident)
            if signal_type is not None:
                by_type[signal_type].append(ident)
        for signal_type, gone in by_type.items():
            array = np.array(gone, np.int64)
            if signal_type == PDQ:
                self._pdq.remove(array)
            elif signal_type in self._exact:
                self._exact[signal_type].remove(array)

    def _reset(self) -> None:
        self._loaded = False
        self._seq = 0
        self._rules = {}
        self._entries = _EntryTable()
        self._waiting = {}
        self._pdq = PdqIndex()
        self._exact = {}


class _EntryTable:
    """Indicator id → (bank id, signal type) in two flat arrays indexed by id.

    Indicator ids are dense and never reused, so arrays cost ~5 bytes per id ever issued, where a
    dict of tuples costs ~150 bytes per entry: 50 MB rather than 1.5 GB at 10 M indicators.
    """

    def __init__(self) -> None:
        self._banks = np.zeros(0, dtype=np.int32)  # 0: not indexed (bank ids start at 1)
        self._types = np.zeros(0, dtype=np.int8)
        self._type_names: list[str] = []
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, ident: int) -> bool:
        return 0 <= ident < len(self._banks) and self._banks[ident] != 0

    def bank_of(self, ident: int) -> int:
        return int(self._banks[ident]) if ident in self else 0

    def put(self, ident: int, bank_id: int, signal_type: str) -> None:
        if ident >= len(self._banks):
            size = max(ident + 1, len(self._banks) * 3 // 2, 1024)
            self._banks = _grown(self._banks, size)
            self._types = _grown(self._types, size)
        if signal_type not in self._type_names:
            self._type_names.append(signal_type)
        if self._banks[ident] == 0:
            self._count += 1
        self._banks[ident] = bank_id
        self._types[ident] = self._type_names.index(signal_type)

    def pop(self, ident: int) -> str | None:
        """Forget an id; return its signal type, or None when it was not indexed."""
        if ident not in self:
            return None
        self._banks[ident] = 0
        self._count -= 1
        return self._type_names[int(self._types[ident])]

    def ids_of_bank(self, bank_id: int) -> list[int]:
        return [int(i) for i in np.flatnonzero(self._banks == bank_id)]


def _grown(array: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros(size, dtype=array.dtype)
    out[: len(array)] = array
    return out


def _codes(values: list[str]) -> np.ndarray:
    return np.frombuffer(bytes.fromhex("".join(values)), np.uint8).reshape(-1, PDQ_BYTES)


def _rule(bank: Bank) -> _BankRule:
    return _BankRule(bank.name, bank.pdq_threshold, bank.review_distance)


def _enabled_rules(session: Session) -> dict[int, _BankRule]:
    banks = session.scalars(select(Bank).where(Bank.enabled.is_(True)))
    return {bank.id: _rule(bank) for bank in banks}


def _matchable(*, bank_id: int | None = None, ids: list[int] | None = None) -> RowQuery:
    """Indicators of enabled banks (disabled_until is checked in Python against one clock)."""
    query = select(
        Indicator.id,
        Indicator.bank_id,
        Indicator.signal_type,
        Indicator.value,
        Indicator.disabled_until,
    ).join(Bank, Bank.id == Indicator.bank_id)
    query = query.where(Bank.enabled.is_(True))
    if bank_id is not None:
        query = query.where(Indicator.bank_id == bank_id)
    if ids is not None:
        query = query.where(Indicator.id.in_(ids))
    return query


def _stream(session: Session, query: RowQuery) -> Iterator[Any]:
    yield from session.execute(query.execution_options(yield_per=FETCH_ROWS))
