"""Console accounts: created with roles and an argon2 password, listed, disabled (never deleted,
so that the audit log's actors always resolve)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tutela.audit.log import Action, Subject, record
from tutela.auth.passwords import check_password_policy, hash_password
from tutela.auth.roles import Role, parse_roles
from tutela.auth.user_models import User, UserRole, UserSession
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.errors import Conflict, InvalidInput, NotFound

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


@dataclass(frozen=True, slots=True)
class UserView:
    id: int
    name: str
    roles: frozenset[Role]
    created_at: datetime
    disabled_at: datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "roles": sorted(self.roles),
            "created_at": self.created_at.isoformat(),
            "disabled_at": self.disabled_at.isoformat() if self.disabled_at else None,
        }


def create_user(
    database: Database,
    name: str,
    password: str,
    roles: Iterable[Role | str],
    *,
    actor: str,
    clock: Clock | None = None,
) -> UserView:
    if not NAME.match(name):
        raise InvalidInput("a user name is 1-64 letters, digits or _.@-")
    granted = parse_roles(roles)
    check_password_policy(password)
    password_hash = hash_password(password)
    now = (clock or SystemClock()).now()
    try:
        with database.unit_of_work() as session:
            if session.scalar(select(User.id).where(User.name == name)) is not None:
                raise Conflict(f"a user named {name!r} already exists")
            user = User(name=name, password_hash=password_hash, created_at=now)
            session.add(user)
            session.flush()
            session.add_all(UserRole(user_id=user.id, role=role.value) for role in granted)
            record(
                session,
                actor,
                Action.USER_CREATE,
                Subject("user", str(user.id)),
                {"name": name, "roles": sorted(granted)},
                now=now,
            )
            view = _view(user, granted)
    except IntegrityError:
        raise Conflict(f"a user named {name!r} already exists") from None
    return view


def list_users(database: Database) -> list[UserView]:
    with database.reader() as session:
        return [
            view_user(session, user) for user in session.scalars(select(User).order_by(User.name))
        ]


def get_user(database: Database, name: str) -> UserView:
    with database.reader() as session:
        return view_user(session, _find(session, name))


def disable_user(
    database: Database, name: str, *, actor: str, clock: Clock | None = None
) -> UserView:
    """Disable an account and end its sessions at once."""
    now = (clock or SystemClock()).now()
    with database.unit_of_work() as session:
        user = _find(session, name)
        if user.disabled_at is None:
            user.disabled_at = now
            ended = revoke_sessions(session, user.id, now)
            record(
                session,
                actor,
                Action.USER_DISABLE,
                Subject("user", str(user.id)),
                {"name": user.name, "sessions_ended": ended},
                now=now,
            )
        return view_user(session, user)


def revoke_sessions(session: Session, user_id: int, now: datetime) -> int:
    """End every live session of a user inside the caller's transaction; returns how many."""
    live = session.scalars(
        select(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
    ).all()
    for row in live:
        row.revoked_at = now
    return len(live)


def view_user(session: Session, user: User) -> UserView:
    roles = session.scalars(select(UserRole.role).where(UserRole.user_id == user.id)).all()
    return _view(user, frozenset(Role(role) for role in roles))


def _find(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"no user named {name!r}")
    return user


def _view(user: User, roles: frozenset[Role]) -> UserView:
    return UserView(
        id=user.id,
        name=user.name,
        roles=roles,
        created_at=user.created_at,
        disabled_at=user.disabled_at,
    )
