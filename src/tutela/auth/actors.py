"""Who acts: a real, active console account holding the permission the act needs.
Every service of the centre, the authority and the provider that names its actor resolves it
here, inside its own transaction, so that the command line (`--analyst NAME`, `--by NAME`) and
the consoles are held to the same rule."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.audit.log import user_actor
from tutela.auth.roles import ROLE_PERMISSIONS, Permission, Role, require_permission
from tutela.auth.user_models import User, UserRole
from tutela.errors import Forbidden, Unauthorized


@dataclass(frozen=True, slots=True)
class Account:
    """The account an act is recorded under, with the roles it holds (a service that needs more
    than one permission, depending on what it finds, checks the others against them)."""

    id: int
    name: str
    roles: frozenset[Role]

    @property
    def actor(self) -> str:
        """As the audit log names it (the console's entries name accounts the same way)."""
        return user_actor(self.id)


def acting_account(session: Session, name: str, permission: Permission) -> Account:
    """The active account called `name`, if one of its roles grants `permission`; otherwise
    `Unauthorized` (no such active account) or `Forbidden` (its roles do not allow the act)."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None or user.disabled_at is not None:
        raise Unauthorized(f"no active account is named {name!r}; see `tutela user list`")
    roles = session.scalars(select(UserRole.role).where(UserRole.user_id == user.id)).all()
    try:
        require_permission(roles, permission)
    except Forbidden:
        raise Forbidden(
            f"{name} may not do this: it needs the {permission.value!r} permission, "
            f"which a {_holders(permission)} holds"
        ) from None
    return Account(user.id, user.name, frozenset(Role(role) for role in roles))


def _holders(permission: Permission) -> str:
    """The roles that grant `permission`, as people say them ("senior analyst")."""
    roles = sorted(r.value for r, granted in ROLE_PERMISSIONS.items() if permission in granted)
    return " or ".join(role.replace("_", " ") for role in roles)
