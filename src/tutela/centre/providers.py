"""Registering providers and their report-signing keys at the centre."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.centre.models import CentreProvider
from tutela.errors import Conflict, UnknownProvider
from tutela.reporting.signing import key_id_of, load_public_key


def register_provider(
    session: Session, name: str, public_key_pem: str, now: datetime, country: str = ""
) -> CentreProvider:
    public_key = load_public_key(public_key_pem)
    key_id = key_id_of(public_key)
    clash = session.scalar(
        select(CentreProvider).where(
            (CentreProvider.name == name) | (CentreProvider.key_id == key_id)
        )
    )
    if clash is not None:
        raise Conflict(f"a provider named {clash.name} or holding that key is registered")
    provider = CentreProvider(
        name=name,
        country=country.upper(),
        public_key_pem=public_key_pem,
        key_id=key_id,
        active=True,
        created_at=now,
    )
    session.add(provider)
    session.flush()
    return provider


def provider_by_key(session: Session, key_id: str) -> CentreProvider:
    provider = session.scalar(
        select(CentreProvider).where(CentreProvider.key_id == key_id, CentreProvider.active)
    )
    if provider is None:
        raise UnknownProvider("no registered provider holds that signing key")
    return provider
