"""The safe list: signal values of known false positives, whose matches are suppressed.

Every change is in the audit log (DESIGN rule 3), written in the transaction that makes it: a safe
list entry silences matches, so who added or removed one, and why, must be on record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from tutela.audit.log import SYSTEM, Subject, record
from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.detection.models import SafeEntry
from tutela.errors import Conflict, NotFound
from tutela.signals.registry import get_signal_type

# Two parameters a pair: well under SQLite's historical limit of 999 per statement.
PAIRS_PER_QUERY = 400


@dataclass(frozen=True, slots=True)
class SafeEntryView:
    id: int
    signal_type: str
    value: str
    reason: str
    created_at: datetime

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "signal_type": self.signal_type,
            "value": self.value,
            "reason": self.reason,
            "created_at": self.created_at.isoformat(),
        }


ADDED = "safelist_add"
REMOVED = "safelist_remove"


def add_safe_entry(
    database: Database, signal_type: str, value: str, reason: str, *, actor: str = SYSTEM
) -> SafeEntryView:
    with database.unit_of_work() as session:
        view = insert_safe_entry(session, signal_type, value, reason, actor=actor)
    if view is None:
        raise Conflict(f"this {signal_type} value is already on the safe list")
    return view


def insert_safe_entry(
    session: Session, signal_type: str, value: str, reason: str, *, actor: str = SYSTEM
) -> SafeEntryView | None:
    """Add a value inside the caller's transaction; None when it is already on the list."""
    canonical = get_signal_type(signal_type).validate(value)
    exists = session.scalar(
        select(SafeEntry.id).where(
            SafeEntry.signal_type == signal_type, SafeEntry.value == canonical
        )
    )
    if exists is not None:
        return None
    row = SafeEntry(signal_type=signal_type, value=canonical, reason=reason, created_at=utc_now())
    session.add(row)
    session.flush()
    record(session, actor, ADDED, _subject(row), _details(row))
    return _view(row)


def list_safe_entries(database: Database) -> list[SafeEntryView]:
    with database.reader() as session:
        return [_view(r) for r in session.scalars(select(SafeEntry).order_by(SafeEntry.id))]


def remove_safe_entry(
    database: Database, signal_type: str, value: str, *, actor: str = SYSTEM
) -> None:
    canonical = get_signal_type(signal_type).validate(value)
    with database.unit_of_work() as session:
        row = session.scalar(
            select(SafeEntry).where(
                SafeEntry.signal_type == signal_type, SafeEntry.value == canonical
            )
        )
        if row is None:
            raise NotFound(f"this {signal_type} value is not on the safe list")
        record(session, actor, REMOVED, _subject(row), _details(row))
        session.delete(row)


def safelisted_values(
    session: Session, values: Iterable[Mapping[str, str]]
) -> set[tuple[str, str]]:
    """The (signal type, value) pairs among `values` (each: type → value) on the safe list."""
    pairs = sorted({pair for item in values for pair in item.items()})
    found: set[tuple[str, str]] = set()
    for start in range(0, len(pairs), PAIRS_PER_QUERY):
        chunk = pairs[start : start + PAIRS_PER_QUERY]
        rows = session.execute(
            select(SafeEntry.signal_type, SafeEntry.value).where(
                tuple_(SafeEntry.signal_type, SafeEntry.value).in_(chunk)
            )
        )
        found.update((str(t), str(v)) for t, v in rows)
    return found


def _subject(row: SafeEntry) -> Subject:
    return Subject("safelist", str(row.id))


def _details(row: SafeEntry) -> dict[str, str]:
    # A hash and the operator's reason: never content (DESIGN rule 2).
    return {"signal_type": row.signal_type, "value": row.value, "reason": row.reason}


def _view(row: SafeEntry) -> SafeEntryView:
    return SafeEntryView(row.id, row.signal_type, row.value, row.reason, row.created_at)
