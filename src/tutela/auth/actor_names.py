"""The people behind stored actors: the log keeps `user:N` (ids never change, names may), a
reader wants the account's name beside it."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.auth.user_models import User

USER_PREFIX = "user:"


def actor_names(session: Session, actors: Iterable[str]) -> dict[str, str]:
    """Account names of the `user:N` actors among `actors` that name an account."""
    ids = {
        int(actor[len(USER_PREFIX) :])
        for actor in actors
        if actor.startswith(USER_PREFIX) and actor[len(USER_PREFIX) :].isdigit()
    }
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.name).where(User.id.in_(ids))).all()
    return {f"{USER_PREFIX}{user_id}": name for user_id, name in rows}


def shown_actor(actor: str, names: dict[str, str]) -> str:
    """`ana (user:3)` for an account, the stored actor as it is otherwise."""
    name = names.get(actor)
    return f"{name} ({actor})" if name is not None else actor
