"""The safe list: signal values of known false positives, whose matches are suppressed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from tutela.db.database import Database
from tutela.db.types import utc_now
from tutela.detection.models import SafeEntry
from tutela.errors import Conflict, NotFound
from tutela.signals.registry import get_signal_type


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


def add_safe_entry(database: Database, signal_type: str, value: str, reason: str) -> SafeEntryView:
    canonical = get_signal_type(signal_type).validate(value)
    with database.unit_of_work() as session:
        exists = session.scalar(
            select(SafeEntry.id).where(
                SafeEntry.signal_type == signal_type, SafeEntry.value == canonical
            )
        )
        if exists is not None:
            raise Conflict(f"this {signal_type} value is already on the safe list")
        row = SafeEntry(
            signal_type=signal_type, value=canonical, reason=reason, created_at=utc_now()
        )
        session.add(row)
        session.flush()
        return _view(row)


def list_safe_entries(database: Database) -> list[SafeEntryView]:
    with database.reader() as session:
        return [_view(r) for r in session.scalars(select(SafeEntry).order_by(SafeEntry.id))]


def remove_safe_entry(database: Database, signal_type: str, value: str) -> None:
    canonical = get_signal_type(signal_type).validate(value)
    with database.unit_of_work() as session:
        row = session.scalar(
            select(SafeEntry).where(
                SafeEntry.signal_type == signal_type, SafeEntry.value == canonical
            )
        )
        if row is None:
            raise NotFound(f"this {signal_type} value is not on the safe list")
        session.delete(row)


def safelisted_types(session: Session, values: Mapping[str, str]) -> set[str]:
    """The signal types (of `values`: type → value) whose value is on the safe list."""
    if not values:
        return set()
    pairs = list(values.items())
    rows = session.execute(
        select(SafeEntry.signal_type).where(
            tuple_(SafeEntry.signal_type, SafeEntry.value).in_(pairs)
        )
    ).scalars()
    return set(rows)


def _view(row: SafeEntry) -> SafeEntryView:
    return SafeEntryView(row.id, row.signal_type, row.value, row.reason, row.created_at)
