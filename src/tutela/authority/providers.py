"""The authority's register of providers it may order: name, the key their execution reports
are signed with, the endpoint orders are posted to, Member State and services. Changed only by
an administrator's account, each change audited."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.audit.log import Subject, record
from tutela.auth.actors import acting_account
from tutela.auth.roles import Permission
from tutela.authority.models import OrderedProvider
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.errors import Conflict, InvalidInput, NotFound, UnknownProvider
from tutela.messaging.signing import key_id_of, load_public_key

COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True, slots=True)
class ProviderView:
    id: int
    name: str
    key_id: str
    order_url: str
    country: str
    services: tuple[str, ...]
    created_at: datetime


def add_provider(
    database: Database,
    by: str,
    name: str,
    public_key_pem: str,
    order_url: str,
    country: str,
    services: list[str] | None = None,
    *,
    legal_representative: str = "",
    clock: Clock | None = None,
) -> ProviderView:
    """Register a provider; `by` is an administrator's account."""
    name = name.strip()
    if not name or len(name) > 128:
        raise InvalidInput("a provider's name is 1 to 128 characters")
    parts = urlsplit(order_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput("the order endpoint is an absolute http(s) URL")
    country = country.strip().upper()
    if not COUNTRY.match(country):
        raise InvalidInput("the country is an ISO 3166 two-letter code")
    key_id = key_id_of(load_public_key(public_key_pem))
    now = (clock or SystemClock()).now()
    with database.unit_of_work() as session:
        account = acting_account(session, by, Permission.MANAGE_SETTINGS)
        clash = session.scalar(
            select(OrderedProvider).where(
                (OrderedProvider.name == name) | (OrderedProvider.key_id == key_id)
            )
        )
        if clash is not None:
            raise Conflict(f"a provider named {clash.name} or holding that key is registered")
        row = OrderedProvider(
            name=name,
            key_id=key_id,
            public_key_pem=public_key_pem,
            order_url=order_url.rstrip("/"),
            country=country,
            services=sorted({s.strip() for s in services or [] if s.strip()}),
            legal_representative=legal_representative.strip()[:256],
            created_at=now,
        )
        session.add(row)
        session.flush()
        record(
            session,
            account.actor,
            "authority_provider_add",
            Subject("authority_provider", str(row.id)),
            {"name": name, "key_id": key_id, "country": country},
            now=now,
        )
        return _view(row)


def provider_named(session: Session, name: str) -> OrderedProvider:
    row = session.scalar(select(OrderedProvider).where(OrderedProvider.name == name))
    if row is None:
        raise NotFound(f"no provider named {name!r}; see `tutela authority provider add`")
    return row


def provider_of(session: Session, key_id: str) -> tuple[OrderedProvider, Ed25519PublicKey]:
    """The registered provider holding `key_id`, and its key; `UnknownProvider` otherwise."""
    row = session.scalar(select(OrderedProvider).where(OrderedProvider.key_id == key_id))
    if row is None:
        raise UnknownProvider("no registered provider holds that key")
    return row, load_public_key(row.public_key_pem)


def _view(row: OrderedProvider) -> ProviderView:
    return ProviderView(
        row.id,
        row.name,
        row.key_id,
        row.order_url,
        row.country,
        tuple(row.services),
        row.created_at,
    )
