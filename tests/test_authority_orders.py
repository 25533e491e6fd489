"""Issuing at the authority node: only a case officer's account issues, and the order is signed,
queued for the provider and copied to the Centre in one audited transaction."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from tutela.audit.models import AuditEntry
from tutela.auth.users import create_user
from tutela.authority.issuing import Issuer, issue_removal_order
from tutela.authority.providers import add_provider
from tutela.db.database import Database
from tutela.errors import Forbidden, Unauthorized
from tutela.messaging.outbox_models import OutboxMessage
from tutela.messaging.signing import SigningKey, generate_key_file

ISSUER = Issuer(
    "Example Authority",
    "orders@authority.example",
    "NL",
    "http://authority.example",
    "http://centre.example",
)
PASSWORD = "placeholder-passphrase-for-tests"


@pytest.fixture
def authority(database: Database, tmp_path: Path) -> SigningKey:
    create_user(database, "admin-1", PASSWORD, ["administrator"], actor="test")
    create_user(database, "officer-1", PASSWORD, ["case_officer"], actor="test")
    create_user(database, "supervisor-1", PASSWORD, ["supervisor"], actor="test")
    provider = generate_key_file(tmp_path / "provider.pem")
    add_provider(
        database,
        "admin-1",
        "Example Hosting BV",
        provider.public_key_pem(),
        "http://provider.example/v1/orders",
        "NL",
    )
    return generate_key_file(tmp_path / "authority.pem")


def counts(database: Database) -> tuple[int, int]:
    with database.reader() as session:
        return (
            session.scalar(select(func.count()).select_from(OutboxMessage)) or 0,
            session.scalar(select(func.count()).select_from(AuditEntry)) or 0,
        )


def issue(database: Database, key: SigningKey, by: str) -> object:
    return issue_removal_order(
        database,
        by,
        "Example Hosting BV",
        [("item_id", "upload-1")],
        "Placeholder reasons.",
        ISSUER,
        key,
    )


def test_an_order_is_queued_for_the_provider_and_copied_to_the_centre_with_an_audit_entry(
    database: Database, authority: SigningKey
) -> None:
    before = counts(database)
    issue(database, authority, "officer-1")
    with database.reader() as session:
        urls = sorted(m.payload["url"] for m in session.scalars(select(OutboxMessage)))
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    assert urls == ["http://centre.example/v1/orders", "http://provider.example/v1/orders"]
    assert actions[-1] == "order_issue"
    assert counts(database) == (before[0] + 2, before[1] + 1)


@pytest.mark.parametrize(
    ("by", "error"), [("supervisor-1", Forbidden), ("admin-1", Forbidden), ("nobody", Unauthorized)]
)
def test_only_a_case_officer_issues_and_a_refusal_writes_nothing(
    database: Database, authority: SigningKey, by: str, error: type[Exception]
) -> None:
    before = counts(database)
    with pytest.raises(error):
        issue(database, authority, by)
    assert counts(database) == before
