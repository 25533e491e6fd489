"""Failed logins counted per account and per client address, in the database so that a lock
survives restarts and holds across every process of the node."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tutela.auth.user_models import LoginThrottle


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """`max_failures` within `window` locks the account (or address) for `lockout`."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)


def account_key(name: str) -> str:
    return f"account:{name.casefold()}"


def address_key(address: str) -> str:
    return f"address:{address}"


def locked_until(session: Session, keys: Iterable[str], now: datetime) -> datetime | None:
    """The latest lock still running on any of `keys`, or None."""
    ends = session.scalars(
        select(LoginThrottle.locked_until).where(
            LoginThrottle.key.in_(list(keys)), LoginThrottle.locked_until > now
        )
    ).all()
    return max((end for end in ends if end is not None), default=None)


def record_failure(
    session: Session, keys: Iterable[str], now: datetime, limits: LoginLimits
) -> None:
    for key in keys:
        # Row lock so that failures from concurrent processes all count (SQLite: writer lock).
        _ensure_row(session, key, now)
        row = session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
        assert row is not None
        if now - row.window_started_at > limits.window:
            row.failures, row.window_started_at = 0, now
        row.failures += 1
        if row.failures >= limits.max_failures:
            row.locked_until = now + limits.lockout
            row.failures, row.window_started_at = 0, now
    _forget_stale(session, now, limits)
    session.flush()


def clear_failures(session: Session, key: str) -> None:
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


def _ensure_row(session: Session, key: str, now: datetime) -> None:
    """Create the key's row unless another process just did (no IntegrityError either way)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(LoginThrottle)
        .values(key=key, failures=0, window_started_at=now)
        .on_conflict_do_nothing()
    )


def _forget_stale(session: Session, now: datetime, limits: LoginLimits) -> None:
    # Addresses are personal data: keep a row only while it can still lock something.
    horizon = now - limits.window - limits.lockout
    session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.window_started_at < horizon,
            (LoginThrottle.locked_until.is_(None)) | (LoginThrottle.locked_until < now),
        )
    )
