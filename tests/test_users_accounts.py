"""Console accounts: roles, password rules, argon2 hashes, disabling."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from password_hashing import cheap_argon2  # noqa: F401  (fixture)
from tutela.audit.log import Action, list_entries
from tutela.auth.roles import Permission, Role, require_permission
from tutela.auth.user_models import User
from tutela.auth.users import create_user, disable_user, list_users
from tutela.db import Database
from tutela.errors import Conflict, Forbidden, InvalidInput

PASSWORD = "correct horse battery"
pytestmark = pytest.mark.usefixtures("cheap_argon2")


def test_a_user_holds_several_roles(database: Database) -> None:
    view = create_user(database, "ana", PASSWORD, ["reviewer", "auditor"], actor="cli:root")
    assert view.roles == {Role.REVIEWER, Role.AUDITOR}
    assert [u.name for u in list_users(database)] == ["ana"]


def test_the_password_is_stored_only_as_an_argon2id_hash(database: Database) -> None:
    create_user(database, "ana", PASSWORD, ["reviewer"], actor="cli:root")
    with database.reader() as session:
        stored = session.scalar(select(User.password_hash))
    assert stored is not None and stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_a_short_password_is_refused(database: Database) -> None:
    with pytest.raises(InvalidInput, match="at least 12"):
        create_user(database, "ana", "short-pass1", ["reviewer"], actor="cli:root")


def test_an_unknown_role_is_refused(database: Database) -> None:
    with pytest.raises(InvalidInput, match="unknown role"):
        create_user(database, "ana", PASSWORD, ["superuser"], actor="cli:root")


def test_a_name_is_taken_once(database: Database) -> None:
    create_user(database, "ana", PASSWORD, ["reviewer"], actor="cli:root")
    with pytest.raises(Conflict):
        create_user(database, "ana", PASSWORD, ["auditor"], actor="cli:root")


def test_creating_and_disabling_are_audited(database: Database) -> None:
    created = create_user(database, "ana", PASSWORD, ["reviewer"], actor="cli:root")
    disabled = disable_user(database, "ana", actor="cli:root")
    assert disabled.disabled_at is not None and not disabled.active
    with database.reader() as session:
        actions = [(e.action, e.subject) for e in list_entries(session)]
    subject = ("user", str(created.id))
    assert actions == [(Action.USER_CREATE, subject), (Action.USER_DISABLE, subject)]


def test_administrators_manage_users_but_do_not_see_content() -> None:
    require_permission([Role.ADMINISTRATOR], Permission.MANAGE_USERS)
    with pytest.raises(Forbidden):
        require_permission([Role.ADMINISTRATOR], Permission.REVEAL)


def test_only_compliance_officers_open_evidence() -> None:
    require_permission([Role.REVIEWER, Role.COMPLIANCE_OFFICER], Permission.OPEN_EVIDENCE)
    with pytest.raises(Forbidden):
        require_permission([Role.SENIOR_REVIEWER], Permission.OPEN_EVIDENCE)
