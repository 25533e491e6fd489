"""Reviewers' wellness settings, kept per person: how strongly previews are blurred, whether they
are greyscale, whether video plays by itself. Defaults protect; each person may loosen them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tutela.audit.log import Action, Subject, record, user_actor
from tutela.db.database import Database
from tutela.errors import InvalidInput
from tutela.review.models import ReviewerPreference

MAX_BLUR_PX = 40


@dataclass(frozen=True, slots=True)
class Preferences:
    blur_px: int = 12
    greyscale: bool = True
    autoplay: bool = False


def get_preferences(database: Database, user_id: int) -> Preferences:
    with database.reader() as session:
        row = session.get(ReviewerPreference, user_id)
        if row is None:
            return Preferences()
        return Preferences(row.blur_px, row.greyscale, row.autoplay)


def set_preferences(
    database: Database, user_id: int, preferences: Preferences, now: datetime
) -> Preferences:
    if not 0 <= preferences.blur_px <= MAX_BLUR_PX:
        raise InvalidInput(f"blur is 0-{MAX_BLUR_PX} pixels")
    with database.unit_of_work() as session:
        row = session.get(ReviewerPreference, user_id)
        if row is None:
            row = ReviewerPreference(user_id=user_id)
            session.add(row)
        row.blur_px, row.greyscale = preferences.blur_px, preferences.greyscale
        row.autoplay, row.updated_at = preferences.autoplay, now
        record(
            session,
            user_actor(user_id),
            Action.SETTING_CHANGE,
            Subject("user", str(user_id)),
            {
                "wellness": {
                    "blur_px": preferences.blur_px,
                    "greyscale": preferences.greyscale,
                    "autoplay": preferences.autoplay,
                }
            },
            now=now,
        )
    return preferences
