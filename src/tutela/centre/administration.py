"""Setting up the centre, as services `(database, actor, …)`: registering providers and their
endpoints, recipients (Europol, LEAs) and routing rules. Each needs an administrator's account,
runs in its own unit of work and writes one audit entry naming the account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tutela.audit.log import Action, Subject, record
from tutela.auth.actors import acting_account
from tutela.auth.roles import Permission
from tutela.centre.providers import register_provider, set_provider_endpoint
from tutela.centre.recipients import add_recipient
from tutela.centre.triage import set_routing_rule
from tutela.clock import utc_now
from tutela.db.database import Database


@dataclass(frozen=True, slots=True)
class RegisteredProvider:
    id: int
    name: str
    key_id: str


def add_provider(
    database: Database,
    actor: str,
    name: str,
    public_key_pem: str,
    *,
    country: str = "",
    endpoint_url: str | None = None,
    now: datetime | None = None,
) -> RegisteredProvider:
    """Register a provider and the Ed25519 key its reports are signed with."""
    now = now or utc_now()
    with database.unit_of_work() as session:
        account = acting_account(session, actor, Permission.MANAGE_SETTINGS)
        provider = register_provider(session, name, public_key_pem, now, country, endpoint_url)
        details = {
            "change": "provider_add",
            "name": name,
            "key_id": provider.key_id,
            "country": provider.country,
            "endpoint_url": endpoint_url,
        }
        subject = Subject("centre_provider", str(provider.id))
        record(session, account.actor, Action.SETTING_CHANGE, subject, details, now=now)
        return RegisteredProvider(provider.id, provider.name, provider.key_id)


def set_endpoint(
    database: Database,
    actor: str,
    name: str,
    endpoint_url: str | None,
    *,
    now: datetime | None = None,
) -> None:
    """Where the centre posts the provider's messages (status, holds)."""
    now = now or utc_now()
    with database.unit_of_work() as session:
        account = acting_account(session, actor, Permission.MANAGE_SETTINGS)
        set_provider_endpoint(session, name, endpoint_url)
        details = {"change": "provider_endpoint", "name": name, "endpoint_url": endpoint_url}
        subject = Subject("centre_provider", name)
        record(session, account.actor, Action.SETTING_CHANGE, subject, details, now=now)


def save_recipient(
    database: Database,
    actor: str,
    name: str,
    url: str,
    *,
    country: str | None = None,
    now: datetime | None = None,
) -> None:
    """Add or change where Europol or an LEA receives forwarded reports (Art 48(3))."""
    now = now or utc_now()
    with database.unit_of_work() as session:
        account = acting_account(session, actor, Permission.MANAGE_SETTINGS)
        add_recipient(session, name, url, now, country)
        details = {"change": "recipient", "name": name, "url": url, "country": country}
        subject = Subject("centre_recipient", name)
        record(session, account.actor, Action.SETTING_CHANGE, subject, details, now=now)


def set_route(
    database: Database, actor: str, country: str, recipient: str, *, now: datetime | None = None
) -> None:
    """Name the competent LEA for a Member State (Art 48(3))."""
    now = now or utc_now()
    with database.unit_of_work() as session:
        account = acting_account(session, actor, Permission.MANAGE_SETTINGS)
        set_routing_rule(session, country, recipient, now)
        details = {"change": "route", "country": country.upper(), "recipient": recipient}
        subject = Subject("centre_route", country.upper())
        record(session, account.actor, Action.SETTING_CHANGE, subject, details, now=now)
