"""The authorities whose signed orders a node accepts: a provider takes orders from them, the EU
Centre takes their copies. Registered by the operator (`tutela authority-key add`), audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.audit.log import Subject, record
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.errors import Conflict, InvalidInput, UnknownAuthority
from tutela.messaging.signing import key_id_of, load_public_key
from tutela.orders.models import AuthorityKey


@dataclass(frozen=True, slots=True)
class AuthorityKeyView:
    id: int
    name: str
    key_id: str
    created_at: datetime


def add_authority_key(
    database: Database, actor: str, name: str, public_key_pem: str, *, clock: Clock | None = None
) -> AuthorityKeyView:
    """Trust an authority's Ed25519 key for its orders."""
    name = name.strip()
    if not name or len(name) > 128:
        raise InvalidInput("an authority's name is 1 to 128 characters")
    key_id = key_id_of(load_public_key(public_key_pem))
    now = (clock or SystemClock()).now()
    with database.unit_of_work() as session:
        clash = session.scalar(
            select(AuthorityKey).where(
                (AuthorityKey.name == name) | (AuthorityKey.key_id == key_id)
            )
        )
        if clash is not None:
            raise Conflict(f"an authority named {clash.name} or holding that key is registered")
        row = AuthorityKey(name=name, key_id=key_id, public_key_pem=public_key_pem, created_at=now)
        session.add(row)
        session.flush()
        record(
            session,
            actor,
            "authority_key_add",
            Subject("authority_key", str(row.id)),
            {"name": name, "key_id": key_id},
            now=now,
        )
        return AuthorityKeyView(row.id, row.name, row.key_id, row.created_at)


def list_authority_keys(database: Database) -> list[AuthorityKeyView]:
    with database.reader() as session:
        rows = session.scalars(select(AuthorityKey).order_by(AuthorityKey.id))
        return [AuthorityKeyView(r.id, r.name, r.key_id, r.created_at) for r in rows]


def authority_of(session: Session, key_id: str) -> tuple[AuthorityKey, Ed25519PublicKey]:
    """The registered authority holding `key_id`, and its key; `UnknownAuthority` otherwise."""
    row = session.scalar(select(AuthorityKey).where(AuthorityKey.key_id == key_id))
    if row is None:
        raise UnknownAuthority("no registered authority holds that key")
    return row, load_public_key(row.public_key_pem)
