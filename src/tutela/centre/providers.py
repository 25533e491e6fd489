"""Registering providers and their report-signing keys at the centre."""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from tutela.centre.models import CentreProvider
from tutela.db.database import Database
from tutela.errors import (
    Conflict,
    InvalidInput,
    InvalidSignature,
    NotFound,
    StaleSignature,
    UnknownProvider,
)
from tutela.messaging.signing import (
    key_id_of,
    load_public_key,
    request_signing_base,
    verify_signature,
)

# A signed request is good for this long either side of the centre's clock (replays).
MAX_SKEW = timedelta(minutes=5)


def register_provider(
    session: Session,
    name: str,
    public_key_pem: str,
    now: datetime,
    country: str = "",
    endpoint_url: str | None = None,
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
        endpoint_url=endpoint_url,
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


class ProviderKeys:
    """Registered providers' public keys by key id, kept for the life of the process, so that
    intake verifies a signature without a database round trip. Nothing needs invalidating: a key
    id is the SHA-256 of its key, so a cached key can never be the wrong one for its id, and
    whether the provider holding it may still report is read by each intake's own insert."""

    def __init__(self) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {}

    def public_key(self, connection: Connection, key_id: str) -> Ed25519PublicKey:
        key = self._keys.get(key_id)
        if key is None:
            pem = connection.execute(
                select(CentreProvider.public_key_pem).where(
                    CentreProvider.key_id == key_id, CentreProvider.active
                )
            ).scalar()
            if pem is None:
                raise UnknownProvider("no registered provider holds that signing key")
            key = load_public_key(pem)
            if key_id_of(key) == key_id:  # as registered; anything else is not worth keeping
                self._keys[key_id] = key
        return key

    def cached(self, key_id: str) -> bool:
        return key_id in self._keys

    def load(self, database: Database, key_id: str) -> Ed25519PublicKey:
        """The key, read once into the cache; `UnknownProvider` if no active provider holds it."""
        with database.reader() as session:
            return self.public_key(session.connection(), key_id)

    def forget(self, key_id: str) -> None:
        """Drop a key whose provider is gone, so that the next try asks the database again."""
        self._keys.pop(key_id, None)


def set_provider_endpoint(session: Session, name: str, endpoint_url: str | None) -> None:
    """Where the centre posts messages for the provider (its node's base URL)."""
    if endpoint_url and not endpoint_url.startswith(("https://", "http://")):
        raise InvalidInput("a provider endpoint is an http(s) URL")
    provider = session.scalar(select(CentreProvider).where(CentreProvider.name == name))
    if provider is None:
        raise NotFound(f"no provider named {name!r}")
    provider.endpoint_url = endpoint_url or None


def verify_signed_request(
    session: Session,
    key_id: str,
    signature: str,
    timestamp: str,
    method: str,
    target: str,
    now: datetime,
    max_skew: timedelta = MAX_SKEW,
) -> CentreProvider:
    """The registered provider that signed `METHOD target timestamp` within the allowed skew
    (TUTELA_SIGNED_MESSAGE_MAX_SKEW_S). Such requests only read, so a replay inside the skew
    is answered afresh and nothing is stored to recognise it."""
    provider = provider_by_key(session, key_id)
    try:
        signed_at = datetime.fromisoformat(timestamp)
    except ValueError:
        raise InvalidSignature("the request time stamp is not ISO 8601") from None
    if signed_at.tzinfo is None:
        raise InvalidSignature("the request time stamp is missing its zone")
    if abs(now - signed_at) > max_skew:
        raise StaleSignature("the request time stamp is too far from the centre's clock")
    base = request_signing_base(method, target, timestamp)
    verify_signature(load_public_key(provider.public_key_pem), base, signature)
    return provider
