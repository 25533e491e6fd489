"""What the Matcher reads and how: the queries for matchable indicators and bank rules, and the
fast path of a full load (the driver's own tuples, gathered into numpy arrays by signal type, so
that no object per row outlives its chunk of millions)."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from itertools import compress
from typing import Any, TypeAlias

import numpy as np
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from tutela.indicators.matcher_entries import BankRule
from tutela.indicators.models import Bank, Indicator
from tutela.signals.registry import signal_types

log = logging.getLogger("tutela.matcher")

FETCH_ROWS = 50_000
# Video indicators (tutela.indicators.video_banks) carry a SHA-256 key as their value.
VPDQ_KEY_TYPE = "vpdq"
VPDQ_KEY_HEX = 64
# Rows of (id, bank_id, signal_type, value, disabled_until).
RowQuery: TypeAlias = "Select[int, int, str, str, datetime | None]"


class GatheredRows:
    """Indicator rows of enabled banks, gathered by signal type as numpy arrays (no object per
    row survives a chunk), for one build or one add."""

    def __init__(self, rules: dict[int, BankRule]) -> None:
        self._banks = np.array(sorted(rules), np.int64)
        self._parts: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        self._unknown: set[str] = set()

    def add(self, chunk: Sequence[Sequence[Any]]) -> None:
        """Rows of (id, bank_id, signal_type, value)."""
        if not chunk:
            return
        ids, bank_ids, types, values = zip(*chunk, strict=True)
        id_array = np.array(ids, np.int64)
        bank_array = np.array(bank_ids, np.int64)
        keep = np.isin(bank_array, self._banks)
        if types.count(types[0]) == len(types):
            groups = [(types[0], keep)]
        else:
            type_array = np.array(types, dtype=object)
            groups = [(name, keep & (type_array == name)) for name in sorted(set(types))]
        for signal_type, mask in groups:
            if not mask.any():
                continue
            everything = bool(mask.all())
            chosen = values if everything else list(compress(values, mask))
            parsed = self._digests(signal_type, chosen)
            if parsed is None:
                continue
            good, digests = parsed
            sel_ids = id_array if everything else id_array[mask]
            sel_banks = bank_array if everything else bank_array[mask]
            if good is not None:
                sel_ids, sel_banks = sel_ids[good], sel_banks[good]
            self._parts.setdefault(signal_type, []).append((sel_ids, sel_banks, digests))

    def arrays(self) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Signal type → (ids, bank ids, digests as uint8 rows)."""
        return {
            signal_type: (
                np.concatenate([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]),
                np.concatenate([p[2] for p in parts]),
            )
            for signal_type, parts in self._parts.items()
        }

    def _digests(
        self, signal_type: str, values: Sequence[str]
    ) -> tuple[np.ndarray | None, np.ndarray] | None:
        """(which rows were good, or None for all; their digests), or None for an unknown type."""
        kind = signal_types().get(signal_type)
        if kind is not None:
            width = kind.hex_length
        elif signal_type == VPDQ_KEY_TYPE:
            width = VPDQ_KEY_HEX  # a video's key; its frames are read beside it (the Matcher)
        else:
            if signal_type not in self._unknown:
                self._unknown.add(signal_type)
                log.warning("matcher: skipping indicators of unknown signal type %r", signal_type)
            return None
        joined = "".join(values)
        if len(joined) == width * len(values):
            try:
                raw = bytes.fromhex(joined)
            except ValueError:
                pass
            else:
                return None, np.frombuffer(raw, np.uint8).reshape(len(values), width // 2)
        # Stored values are validated on the way in; a row changed behind Tutela's back is
        # skipped rather than stopping every matcher from starting.
        good = np.array([_is_hex(value, width) for value in values], bool)
        log.warning("matcher: skipping %d malformed %s values", int((~good).sum()), signal_type)
        kept = "".join(compress(values, good))
        digests = np.frombuffer(bytes.fromhex(kept), np.uint8).reshape(-1, width // 2)
        return good, digests


def driver_rows(
    session: Session, statement: Select[*tuple[Any, ...]]
) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of a parameterless SELECT as the driver's own tuples, FETCH_ROWS at a time.

    At millions of rows building SQLAlchemy rows costs about as much as the database's reading;
    these columns (integers and text) need no conversion, so the driver's tuples serve as they
    are. Runs in the session's transaction; on PostgreSQL through a server-side cursor, so that
    rows stream instead of all arriving at once.
    """
    connection = session.connection()
    compiled = statement.compile(dialect=connection.dialect)
    if compiled.params:
        raise ValueError("driver_rows takes statements without parameters")
    driver_connection: Any = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        cursor = driver_connection.cursor(name="tutela_matcher_load")
    else:
        cursor = driver_connection.cursor()
    try:
        cursor.execute(str(compiled))
        while rows := cursor.fetchmany(FETCH_ROWS):
            yield rows
    finally:
        cursor.close()


def _is_hex(value: object, width: int) -> bool:
    if not isinstance(value, str) or len(value) != width:
        return False
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return True


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Hold Python's cycle collector off while millions of row tuples come and go.

    Each chunk's tuples live long enough to be promoted, so the collector keeps walking every
    object in the process: it more than doubled the time of a 1 M row load. Nothing read here
    forms cycles (reference counting frees it all); the pause lasts one load, process-wide.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def rule_of(bank: Bank) -> BankRule:
    return BankRule(
        bank.name,
        bank.pdq_threshold,
        bank.review_distance,
        bank.robust,
        bank.vpdq_query_match,
        bank.vpdq_compared_match,
    )


def enabled_rules(session: Session) -> dict[int, BankRule]:
    rows = session.execute(
        select(
            Bank.id,
            Bank.name,
            Bank.pdq_threshold,
            Bank.review_distance,
            Bank.robust,
            Bank.vpdq_query_match,
            Bank.vpdq_compared_match,
        ).where(Bank.enabled.is_(True))
    )
    return {
        row.id: BankRule(
            row.name,
            row.pdq_threshold,
            row.review_distance,
            row.robust,
            row.vpdq_query_match,
            row.vpdq_compared_match,
        )
        for row in rows
    }


def enabled_now() -> Select[int, int, str, str]:
    """The bulk of a full load: indicators of enabled banks never disabled (no time to check)."""
    return (
        select(Indicator.id, Indicator.bank_id, Indicator.signal_type, Indicator.value)
        .join(Bank, Bank.id == Indicator.bank_id)
        .where(Bank.enabled.is_(True), Indicator.disabled_until.is_(None))
    )


def matchable(
    *, bank_id: int | None = None, ids: list[int] | None = None, disabled: bool = False
) -> RowQuery:
    """Indicators of enabled banks (disabled_until is checked in Python against one clock);
    `disabled`: only those that carry a disabled_until at all."""
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
    if disabled:
        query = query.where(Indicator.disabled_until.is_not(None))
    return query
