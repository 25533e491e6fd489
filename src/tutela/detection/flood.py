"""Flood protection: an indicator that matches too often is probably a false positive (a logo,
a meme, a blank frame), so it is put on review-only and an alert row is recorded."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tutela.detection.models import FloodAlert, ItemMatch


def is_flooding(
    session: Session, *, indicator_id: int, bank_id: int, limit: int, window_s: int, now: datetime
) -> bool:
    """True when the indicator is on review-only; raises an alert when this match crosses `limit`.

    Counts the matches already recorded in the window plus the one being recorded now.
    """
    active = session.scalar(
        select(FloodAlert.id).where(
            FloodAlert.indicator_id == indicator_id, FloodAlert.review_only_until > now
        )
    )
    if active is not None:
        return True
    since = now - timedelta(seconds=window_s)
    recent = session.scalar(
        select(func.count())
        .select_from(ItemMatch)
        .where(ItemMatch.indicator_id == indicator_id, ItemMatch.created_at >= since)
    )
    count = int(recent or 0) + 1
    if count <= limit:
        return False
    session.add(
        FloodAlert(
            indicator_id=indicator_id,
            bank_id=bank_id,
            matches=count,
            window_s=window_s,
            raised_at=now,
            review_only_until=now + timedelta(seconds=window_s),
        )
    )
    session.flush()
    return True


def list_flood_alerts(session: Session, *, limit: int = 100) -> list[FloodAlert]:
    return list(session.scalars(select(FloodAlert).order_by(FloodAlert.id.desc()).limit(limit)))
