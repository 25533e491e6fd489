"""Reading the audit log a page at a time, newest first, narrowed by action, actor and subject:
what the auditors' console page shows. Pages are keyset ranges of `seq` (before or after an entry
of the page last shown), so a page costs the same at the head of a long log as at its start."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from tutela.audit.log import EntryView, view_of
from tutela.audit.models import AuditEntry


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Entries whose fields equal every field given here; an empty field matches anything."""

    action: str = ""
    actor: str = ""
    subject_type: str = ""
    subject_id: str = ""

    def conditions(self) -> list[ColumnElement[bool]]:
        wanted = (
            (AuditEntry.action, self.action),
            (AuditEntry.actor, self.actor),
            (AuditEntry.subject_type, self.subject_type),
            (AuditEntry.subject_id, self.subject_id),
        )
        return [column == value for column, value in wanted if value]


@dataclass(frozen=True, slots=True)
class AuditPage:
    """Matching entries, newest first, and whether matching entries lie beyond either end."""

    entries: list[EntryView]
    has_newer: bool
    has_older: bool

    @property
    def newest_seq(self) -> int | None:
        return self.entries[0].seq if self.entries else None

    @property
    def oldest_seq(self) -> int | None:
        return self.entries[-1].seq if self.entries else None


def search_entries(
    session: Session,
    wanted: AuditFilter,
    *,
    size: int,
    before: int | None = None,
    after: int | None = None,
) -> AuditPage:
    """Up to `size` matching entries: the newest ones below seq `before`, or the oldest ones
    above seq `after` (paging back towards the head), or the newest of all."""
    conditions = wanted.conditions()
    query = select(AuditEntry).where(*conditions)
    if after is not None:
        query = query.where(AuditEntry.seq > after).order_by(AuditEntry.seq)
    else:
        if before is not None:
            query = query.where(AuditEntry.seq < before)
        query = query.order_by(AuditEntry.seq.desc())
    rows = list(session.scalars(query.limit(size + 1)))
    beyond = len(rows) > size
    entries = sorted((view_of(row) for row in rows[:size]), key=lambda e: e.seq, reverse=True)
    if not entries:
        # Past an end of what matches (an old link, a narrower filter): point back if any does.
        found = _any(session, conditions)
        return AuditPage(
            [], has_newer=found and before is not None, has_older=found and after is not None
        )
    if after is not None:
        older = _any(session, conditions, AuditEntry.seq < entries[-1].seq)
        return AuditPage(entries, has_newer=beyond, has_older=older)
    newer = before is not None and _any(session, conditions, AuditEntry.seq > entries[0].seq)
    return AuditPage(entries, has_newer=newer, has_older=beyond)


def _any(
    session: Session, conditions: list[ColumnElement[bool]], *more: ColumnElement[bool]
) -> bool:
    # The subquery names its table: with no filter and no bound, a bare EXISTS() would select
    # from nothing, which SQLite refuses (an empty page past the end, GET /ui/audit?after=N).
    return bool(session.scalar(select(select(AuditEntry.seq).where(*conditions, *more).exists())))
