"""Console sign-in: password checks behind per-account and per-address limits, server-side
sessions (random token, stored hashed) with idle and absolute expiry, logout and revocation."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tutela.audit.log import Action, Subject, record, user_actor
from tutela.auth.csrf import issue_csrf_token
from tutela.auth.login_throttles import (
    LoginLimits,
    ThrottleKey,
    clear_failures,
    locked_until,
    pair_key,
    record_failure,
    throttle_keys,
)
from tutela.auth.passwords import hash_password, needs_rehash, verify_password
from tutela.auth.user_models import User, UserSession
from tutela.auth.users import UserView, view_user
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.errors import TooManyAttempts, Unauthorized
from tutela.settings import Settings

TOKEN_BYTES = 32
ANONYMOUS = "anonymous"
# last_seen_at is rewritten at most this often, so that reads do not all become writes.
TOUCH_GRANULARITY = timedelta(minutes=1)
WRONG_CREDENTIALS = "wrong user name or password"


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionPolicy:
        return cls(
            idle=timedelta(minutes=settings.session_idle_minutes),
            absolute=timedelta(hours=settings.session_max_hours),
        )


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session. The token goes in a Secure, HttpOnly cookie; it is never stored."""

    token: str = field(repr=False)
    csrf_token: str = field(repr=False)
    session_id: int
    user: UserView
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SessionUser:
    """Who is behind a request's session token."""

    session_id: int
    user: UserView
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class _Refused:
    error: Unauthorized


def log_in(
    database: Database,
    name: str,
    password: str,
    address: str | None,
    *,
    clock: Clock | None = None,
    policy: SessionPolicy | None = None,
    limits: LoginLimits | None = None,
) -> SignedIn:
    """Check a password and open a session; Unauthorized or TooManyAttempts otherwise.

    Failures are counted and audited in a transaction that commits even though the login fails.
    """
    now = (clock or SystemClock()).now()
    policy, limits = policy or SessionPolicy(), limits or LoginLimits()
    keys = throttle_keys(name, address, limits)
    with database.unit_of_work() as session:
        outcome = _attempt(session, name, password, address, keys, now, policy, limits)
    if isinstance(outcome, _Refused):
        raise outcome.error
    return outcome


def authenticate_session(
    database: Database,
    token: str | None,
    *,
    clock: Clock | None = None,
    policy: SessionPolicy | None = None,
) -> SessionUser:
    """The user behind a session token; Unauthorized when it is unknown, revoked or expired."""
    now = (clock or SystemClock()).now()
    policy = policy or SessionPolicy()
    if not token:
        raise Unauthorized("sign in first")
    with database.reader() as session:
        row = session.scalar(select(UserSession).where(UserSession.token_hash == _digest(token)))
        user = session.get(User, row.user_id) if row is not None else None
        if row is None or user is None or row.revoked_at is not None:
            raise Unauthorized("sign in first")
        if now >= row.expires_at or now - row.last_seen_at >= policy.idle:
            raise Unauthorized("your session has expired; sign in again")
        if user.disabled_at is not None:
            raise Unauthorized("this account is disabled")
        view = view_user(session, user)
        session_id, expires_at, last_seen = row.id, row.expires_at, row.last_seen_at
    if now - last_seen >= TOUCH_GRANULARITY:
        with database.unit_of_work() as session:
            session.execute(
                update(UserSession).where(UserSession.id == session_id).values(last_seen_at=now)
            )
    return SessionUser(session_id, view, expires_at)


def log_out(database: Database, token: str, *, clock: Clock | None = None) -> None:
    """End the session behind `token` (nothing happens for an unknown or ended one)."""
    now = (clock or SystemClock()).now()
    with database.unit_of_work() as session:
        row = session.scalar(select(UserSession).where(UserSession.token_hash == _digest(token)))
        if row is None or row.revoked_at is not None:
            return
        row.revoked_at = now
        record(
            session,
            user_actor(row.user_id),
            Action.LOGOUT,
            Subject("session", str(row.id)),
            {},
            now=now,
        )


def _attempt(
    session: Session,
    name: str,
    password: str,
    address: str | None,
    keys: list[ThrottleKey],
    now: datetime,
    policy: SessionPolicy,
    limits: LoginLimits,
) -> SignedIn | _Refused:
    user = session.scalar(select(User).where(User.name == name))
    # A typed name that matches no account may be a password typed in the wrong field: the
    # audit log names only accounts that exist.
    actor = user_actor(user.id) if user is not None else ANONYMOUS
    subject = Subject("user", str(user.id)) if user is not None else None
    until = locked_until(session, [k.key for k in keys], now)
    if until is not None:
        record(session, actor, Action.LOGIN_FAILED, subject, _details("locked", address), now=now)
        return _Refused(
            TooManyAttempts(f"too many failed logins; try again after {until:%H:%M} UTC")
        )
    matches = verify_password(user.password_hash if user is not None else None, password)
    if user is None or not matches or user.disabled_at is not None:
        reason = "unknown_account" if user is None else "disabled" if matches else "wrong_password"
        record_failure(session, keys, now, limits)
        record(session, actor, Action.LOGIN_FAILED, subject, _details(reason, address), now=now)
        return _Refused(Unauthorized(WRONG_CREDENTIALS))
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    clear_failures(session, pair_key(name, address))
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = UserSession(
        token_hash=_digest(token),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.absolute,
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        Action.LOGIN,
        Subject("session", str(row.id)),
        _details("ok", address),
        now=now,
    )
    return SignedIn(
        token, issue_csrf_token(token), row.id, view_user(session, user), row.expires_at
    )


def _details(outcome: str, address: str | None) -> dict[str, object]:
    return {"outcome": outcome, "address": address}


def _digest(token: str) -> str:
    # SHA-256 suffices: tokens carry 256 random bits, so no slow hash is needed.
    return hashlib.sha256(token.encode()).hexdigest()
