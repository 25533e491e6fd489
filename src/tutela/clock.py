"""Where the time comes from, the one place in tutela that reads the machine's clock.

Services take a `Clock` (the `SystemClock` in production, a `FixedClock` that tests set and move);
functions that are given the time take it as a `now: datetime` parameter. `utc_now` is the system
clock's time as a function, for column defaults and the edges that pass `now` in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


def utc_now() -> datetime:
    """The machine's current time, as an aware UTC datetime."""
    return datetime.now(UTC)


class Clock(Protocol):
    """Anything that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return utc_now()


class FixedClock:
    """A clock that stands still until a test moves it, so that expiry can be tested exactly."""

    def __init__(self, at: datetime) -> None:
        self._at = _aware(at)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = _aware(at)

    def advance(self, delta: timedelta) -> datetime:
        self._at += delta
        return self._at


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("a clock needs an aware datetime")
    return at.astimezone(UTC)
