"""The change sequence: every write to a bank or indicator appends a row with a larger `seq`.

Matchers follow it (`changes_since`) to keep their in-memory indices current without rebuilding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.orm import Session

from tutela.clock import utc_now
from tutela.indicators.models import IndicatorChange

# Any fixed 64-bit number; names the lock that orders writers of the change sequence.
_CHANGE_LOCK_KEY = 0x7475_7465_6C61_0001
# PostgreSQL: every transaction that writes changes notifies this channel when it commits, so
# matchers in every process (API replicas) refresh at once instead of at their next poll.
CHANGES_CHANNEL = "tutela_indicator_changes"


class ChangeOp(StrEnum):
    """What a change row says happened; every `bank_*` op makes matchers re-read the bank row."""

    ADD = "add"
    UPDATE = "update"
    DISABLE = "disable"
    ENABLE = "enable"
    DELETE = "delete"
    # A new bank: without it, a matcher that started before the bank existed would skip the
    # `add` rows of its indicators as rows of a bank it does not know.
    BANK_CREATE = "bank_create"
    BANK_UPDATE = "bank_update"
    BANK_ENABLE = "bank_enable"
    BANK_DISABLE = "bank_disable"
    BANK_DELETE = "bank_delete"


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    bank_id: int
    indicator_id: int | None
    op: ChangeOp
    at: datetime


def lock_change_sequence(session: Session) -> None:
    """Hold the change-sequence lock until this transaction ends.

    A PostgreSQL sequence hands out numbers at insert, not at commit: without this lock a writer
    that took seq 10 could commit after one that took seq 11, and a matcher that had already read
    11 would never see 10. Serialising writers makes commit order equal seq order. SQLite
    serialises writers by itself.

    On PostgreSQL the transaction also notifies CHANGES_CHANNEL: delivered when it commits
    (after its change rows are visible), never when it rolls back, once however often asked.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHANGE_LOCK_KEY})
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANGES_CHANNEL})


def record_change(
    session: Session, bank_id: int, op: ChangeOp, indicator_id: int | None = None
) -> None:
    lock_change_sequence(session)
    session.execute(
        insert(IndicatorChange),
        [{"bank_id": bank_id, "indicator_id": indicator_id, "op": op.value, "at": utc_now()}],
    )


def record_indicator_changes(
    session: Session, bank_id: int, op: ChangeOp, indicator_ids: Sequence[int]
) -> None:
    """One change row per indicator, in id order, in one round trip per chunk."""
    if not indicator_ids:
        return
    lock_change_sequence(session)
    now = utc_now()
    session.execute(
        insert(IndicatorChange),
        [
            {"bank_id": bank_id, "indicator_id": ident, "op": op.value, "at": now}
            for ident in sorted(indicator_ids)
        ],
    )


# Built once: building a statement costs more than running it on an idle table, and every
# refresh of a Matcher (one per batch of uploads) runs this one.
_CHANGES_SINCE = (
    select(
        IndicatorChange.seq,
        IndicatorChange.bank_id,
        IndicatorChange.indicator_id,
        IndicatorChange.op,
        IndicatorChange.at,
    )
    .where(IndicatorChange.seq > bindparam("seq"))
    .order_by(IndicatorChange.seq)
    .limit(bindparam("limit"))
)


def changes_since(session: Session, seq: int, *, limit: int = 100_000) -> list[Change]:
    """Changes with a sequence number above `seq`, oldest first."""
    rows = session.execute(_CHANGES_SINCE, {"seq": seq, "limit": limit}).all()
    return [Change(r.seq, r.bank_id, r.indicator_id, ChangeOp(r.op), r.at) for r in rows]


def latest_seq(session: Session) -> int:
    """The newest sequence number, 0 when nothing has changed yet."""
    return int(session.scalar(select(func.coalesce(func.max(IndicatorChange.seq), 0))) or 0)
