"""Signing in: rate-limited per account and address, sessions with idle and absolute expiry,
logout, revocation, CSRF tokens bound to the session, every attempt audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from password_hashing import cheap_argon2  # noqa: F401  (fixture)
from tutela.audit.log import Action, list_entries
from tutela.audit.verify import verify_chain
from tutela.auth.csrf import issue_csrf_token, verify_csrf_token
from tutela.auth.login_throttles import LoginLimits
from tutela.auth.sessions import SessionPolicy, authenticate_session, log_in, log_out
from tutela.auth.user_models import UserSession
from tutela.auth.users import create_user, disable_user
from tutela.clock import FixedClock
from tutela.db import Database
from tutela.errors import CsrfRejected, TooManyAttempts, Unauthorized

PASSWORD = "correct horse battery"
pytestmark = pytest.mark.usefixtures("cheap_argon2")
ADDRESS = "198.51.100.7"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2025, 5, 1, 8, 0, tzinfo=UTC))


@pytest.fixture
def database_with_ana(database: Database) -> Database:
    create_user(database, "ana", PASSWORD, ["reviewer"], actor="cli:root")
    return database


def fail(database: Database, clock: FixedClock, times: int, address: str = ADDRESS) -> None:
    for _ in range(times):
        with pytest.raises(Unauthorized):
            log_in(database, "ana", "not the password", address, clock=clock)


def test_a_right_password_opens_a_session_for_the_user(
    database_with_ana: Database, clock: FixedClock
) -> None:
    signed_in = log_in(database_with_ana, "ana", PASSWORD, ADDRESS, clock=clock)
    found = authenticate_session(database_with_ana, signed_in.token, clock=clock)
    assert found.user.name == "ana" and found.session_id == signed_in.session_id


def test_the_session_token_is_stored_only_hashed(
    database_with_ana: Database, clock: FixedClock
) -> None:
    signed_in = log_in(database_with_ana, "ana", PASSWORD, ADDRESS, clock=clock)
    with database_with_ana.reader() as session:
        stored = session.scalar(select(UserSession.token_hash))
    assert stored is not None and signed_in.token not in stored


def test_a_wrong_password_is_refused_and_audited(
    database_with_ana: Database, clock: FixedClock
) -> None:
    with pytest.raises(Unauthorized, match="wrong user name or password"):
        log_in(database_with_ana, "ana", "not the password", ADDRESS, clock=clock)
    with database_with_ana.reader() as session:
        (failed,) = list_entries(session, action=Action.LOGIN_FAILED)
    assert failed.details == {"outcome": "wrong_password", "address": ADDRESS}


def test_an_unknown_name_is_audited_without_the_typed_name(
    database_with_ana: Database, clock: FixedClock
) -> None:
    with pytest.raises(Unauthorized):
        log_in(database_with_ana, "correct horse", "battery", ADDRESS, clock=clock)
    with database_with_ana.reader() as session:
        (failed,) = list_entries(session, action=Action.LOGIN_FAILED)
    assert failed.actor == "anonymous" and "correct horse" not in str(failed.as_dict())


def test_login_and_logout_are_audited(database_with_ana: Database, clock: FixedClock) -> None:
    signed_in = log_in(database_with_ana, "ana", PASSWORD, ADDRESS, clock=clock)
    log_out(database_with_ana, signed_in.token, clock=clock)
    with database_with_ana.reader() as session:
        actions = [e.action for e in list_entries(session)]
        assert verify_chain(session).intact
    assert actions[-2:] == [Action.LOGIN, Action.LOGOUT]


def test_five_failures_lock_the_account_from_that_address_even_with_the_right_password(
    database_with_ana: Database, clock: FixedClock
) -> None:
    fail(database_with_ana, clock, 5)
    with pytest.raises(TooManyAttempts):
        log_in(database_with_ana, "ana", PASSWORD, ADDRESS, clock=clock)


def test_a_stranger_failing_on_an_account_does_not_lock_its_owner_out(
    database_with_ana: Database, clock: FixedClock
) -> None:
    fail(database_with_ana, clock, 12, address="203.0.113.66")
    log_in(database_with_ana, "ana", PASSWORD, ADDRESS, clock=clock)


def test_a_very_long_typed_name_is_counted_like_any_other(
    database_with_ana: Database, clock: FixedClock
) -> None:
    for _ in range(5):
        with pytest.raises(Unauthorized):
            log_in(database_with_ana, "n" * 5000, "x", ADDRESS, clock=clock)
    with pytest.raises(TooManyAttempts):
        log_in(database_with_ana, "n" * 5000, "x", ADDRESS, clock=clock)


def test_four_failures_do_not_lock(database_with_ana: Database, clock: FixedClock) -> None:
    fail(database_with_ana, clock, 4)
    log_in(database_with_ana, "ana", PASSWORD, ADDRESS, clock=clock)


def test_the_lock_ends_after_fifteen_minutes(
    database_with_ana: Database, clock: FixedClock
) -> None:
    fail(database_with_ana, clock, 5)
    clock.advance(timedelta(minutes=14))
    with pytest.raises(TooManyAttempts):
        log_in(database_with_ana, "ana", PASSWORD, ADDRESS, clock=clock)
    clock.advance(timedelta(minutes=1))
    log_in(database_with_ana, "ana", PASSWORD, ADDRESS, clock=clock)


def test_failures_spread_beyond_the_window_do_not_lock(
    database_with_ana: Database, clock: FixedClock
) -> None:
    for _ in range(5):
        fail(database_with_ana, clock, 1)
        clock.advance(timedelta(minutes=4))
    log_in(database_with_ana, "ana", PASSWORD, ADDRESS, clock=clock)


def test_an_address_that_fails_on_many_accounts_is_locked(
    database_with_ana: Database, clock: FixedClock
) -> None:
    for n in range(LoginLimits().address_max_failures):
        with pytest.raises(Unauthorized):
            log_in(database_with_ana, f"guess{n}", "not the password", ADDRESS, clock=clock)
    with pytest.raises(TooManyAttempts):
        log_in(database_with_ana, "ana", PASSWORD, ADDRESS, clock=clock)
    log_in(database_with_ana, "ana", PASSWORD, "203.0.113.9", clock=clock)


def test_a_session_ends_after_the_idle_time(database_with_ana: Database, clock: FixedClock) -> None:
    policy = SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=12))
    signed_in = log_in(database_with_ana, "ana", PASSWORD, ADDRESS, clock=clock, policy=policy)
    clock.advance(timedelta(minutes=29))
    authenticate_session(database_with_ana, signed_in.token, clock=clock, policy=policy)
    clock.advance(timedelta(minutes=29))  # 29 minutes after the last request: still alive
    authenticate_session(database_with_ana, signed_in.token, clock=clock, policy=policy)
    clock.advance(timedelta(minutes=30))
    with pytest.raises(Unauthorized, match="expired"):
        authenticate_session(database_with_ana, signed_in.token, clock=clock, policy=policy)


def test_a_busy_session_still_ends_at_its_absolute_expiry(
    database_with_ana: Database, clock: FixedClock
) -> None:
    policy = SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=1))
    signed_in = log_in(database_with_ana, "ana", PASSWORD, ADDRESS, clock=clock, policy=policy)
    for _ in range(3):
        clock.advance(timedelta(minutes=20))
        if clock.now() < signed_in.expires_at:
            authenticate_session(database_with_ana, signed_in.token, clock=clock, policy=policy)
    with pytest.raises(Unauthorized, match="expired"):
        authenticate_session(database_with_ana, signed_in.token, clock=clock, policy=policy)


def test_a_logged_out_session_is_refused(database_with_ana: Database, clock: FixedClock) -> None:
    signed_in = log_in(database_with_ana, "ana", PASSWORD, ADDRESS, clock=clock)
    log_out(database_with_ana, signed_in.token, clock=clock)
    with pytest.raises(Unauthorized):
        authenticate_session(database_with_ana, signed_in.token, clock=clock)


def test_disabling_a_user_ends_their_sessions_and_refuses_login(
    database_with_ana: Database, clock: FixedClock
) -> None:
    signed_in = log_in(database_with_ana, "ana", PASSWORD, ADDRESS, clock=clock)
    disable_user(database_with_ana, "ana", actor="cli:root", clock=clock)
    with pytest.raises(Unauthorized):
        authenticate_session(database_with_ana, signed_in.token, clock=clock)
    with pytest.raises(Unauthorized, match="wrong user name or password"):
        log_in(database_with_ana, "ana", PASSWORD, ADDRESS, clock=clock)


def test_a_csrf_token_is_accepted_only_with_its_own_session(
    database_with_ana: Database, clock: FixedClock
) -> None:
    first = log_in(database_with_ana, "ana", PASSWORD, ADDRESS, clock=clock)
    second = log_in(database_with_ana, "ana", PASSWORD, ADDRESS, clock=clock)
    verify_csrf_token(first.token, first.csrf_token)
    assert issue_csrf_token(first.token) == first.csrf_token
    with pytest.raises(CsrfRejected):
        verify_csrf_token(first.token, second.csrf_token)
    with pytest.raises(CsrfRejected):
        verify_csrf_token(first.token, None)
