"""Flood protection: an indicator that matches too often is probably a false positive (a logo,
a meme, a blank frame), so it is put on review-only and an alert row is recorded.

Counting is race-free: on PostgreSQL the counter takes a transaction-scoped advisory lock per
indicator (in id order, so two batches cannot deadlock) before it counts, and holds it until the
matches it counted are committed; a concurrent batch counting the same indicator waits and then
sees them. SQLite's single writer (`BEGIN IMMEDIATE`) serialises the batches already.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from tutela.detection.models import FloodAlert, ItemMatch

# First key of the two-key advisory lock: keeps flood locks apart from any other advisory lock.
LOCK_SPACE = 0x7F100D
_LOCK = text("SELECT pg_advisory_xact_lock(:space, :key)")
_INT4_MAX = 2**31 - 1


class FloodCounter:
    """Match counts of a set of indicators, for one writing transaction (one batch of verdicts).

    Construct it inside the transaction that will insert the matches, before judging any of them,
    with every indicator the batch matched; then call `is_flooding` once per match, in order.
    """

    def __init__(self, session: Session, indicator_ids: Iterable[int], now: datetime) -> None:
        self._session = session
        self._now = now
        self._ids = sorted(set(indicator_ids))
        if session.get_bind().dialect.name == "postgresql":
            for key in sorted({i % _INT4_MAX for i in self._ids}):
                session.execute(_LOCK, {"space": LOCK_SPACE, "key": key})
        self._flooded: set[int] = set()
        if self._ids:
            self._flooded = set(
                session.scalars(
                    select(FloodAlert.indicator_id).where(
                        FloodAlert.indicator_id.in_(self._ids), FloodAlert.review_only_until > now
                    )
                )
            )
        # Matches already committed, per (indicator, window): the window comes from each bank's
        # policy, so they are read lazily; and this batch's own match rows, not yet inserted.
        self._recorded: dict[tuple[int, int], int] = {}
        self._batch: Counter[int] = Counter()

    def is_flooding(self, *, indicator_id: int, bank_id: int, limit: int, window_s: int) -> bool:
        """True when the indicator is on review-only; raises an alert when this match crosses
        `limit` (counting the matches recorded in the window, this batch's earlier ones, and this
        one). Call `count` for every match row the batch records, whatever its outcome."""
        if indicator_id in self._flooded:
            return True
        count = self._recent(indicator_id, window_s) + 1
        if count <= limit:
            return False
        self._session.add(
            FloodAlert(
                indicator_id=indicator_id,
                bank_id=bank_id,
                matches=count,
                window_s=window_s,
                raised_at=self._now,
                review_only_until=self._now + timedelta(seconds=window_s),
            )
        )
        self._flooded.add(indicator_id)
        return True

    def count(self, indicator_id: int) -> None:
        """One more match row of the indicator in this batch (inserted with the verdicts)."""
        self._batch[indicator_id] += 1

    def _recent(self, indicator_id: int, window_s: int) -> int:
        key = (indicator_id, window_s)
        if key not in self._recorded:
            since = self._now - timedelta(seconds=window_s)
            recorded = self._session.scalar(
                select(func.count())
                .select_from(ItemMatch)
                .where(ItemMatch.indicator_id == indicator_id, ItemMatch.created_at >= since)
            )
            self._recorded[key] = int(recorded or 0)
        return self._recorded[key] + self._batch[indicator_id]


def list_flood_alerts(session: Session, *, limit: int = 100) -> list[FloodAlert]:
    return list(session.scalars(select(FloodAlert).order_by(FloodAlert.id.desc()).limit(limit)))
