"""Failed logins counted per (account, client address) and per client address, in the database so
that a lock survives restarts and holds across every process of the node.

Never per account alone: anyone could then lock any account by failing five times on it. A
stranger guessing one account's password locks only that account from their own address; one
address guessing across many accounts is locked as a whole after more failures."""

from __future__ import annotations

import hashlib
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
    """`max_failures` within `window` lock an account from one address for `lockout`;
    `address_max_failures` within `window`, on any accounts, lock the address itself."""

    max_failures: int = 5
    address_max_failures: int = 20
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class ThrottleKey:
    key: str
    max_failures: int


def pair_key(name: str, address: str | None) -> str:
    """The row of one account tried from one address; hashed, since a typed name is any length
    (and may be a password typed in the wrong field)."""
    pair = f"{name.casefold()}\n{address or '-'}"
    return "pair:" + hashlib.sha256(pair.encode()).hexdigest()


def address_key(address: str) -> str:
    return f"address:{address}"


def throttle_keys(name: str, address: str | None, limits: LoginLimits) -> list[ThrottleKey]:
    """The counters one login attempt touches."""
    keys = [ThrottleKey(pair_key(name, address), limits.max_failures)]
    if address:
        keys.append(ThrottleKey(address_key(address), limits.address_max_failures))
    return keys


def locked_until(session: Session, keys: Iterable[str], now: datetime) -> datetime | None:
    """The latest lock still running on any of `keys`, or None."""
    ends = session.scalars(
        select(LoginThrottle.locked_until).where(
            LoginThrottle.key.in_(list(keys)), LoginThrottle.locked_until > now
        )
    ).all()
    return max((end for end in ends if end is not None), default=None)


def record_failure(
    session: Session, keys: Iterable[ThrottleKey], now: datetime, limits: LoginLimits
) -> None:
    for throttle in keys:
        # Row lock so that failures from concurrent processes all count (SQLite: writer lock).
        _ensure_row(session, throttle.key, now)
        row = session.get(LoginThrottle, throttle.key, with_for_update=True, populate_existing=True)
        assert row is not None
        if now - row.window_started_at > limits.window:
            row.failures, row.window_started_at = 0, now
        row.failures += 1
        if row.failures >= throttle.max_failures:
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
