"""Appending to the audit log inside the caller's transaction, one link of the chain at a time."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.audit.models import AuditEntry, AuditHead
from tutela.clock import utc_now
from tutela.errors import ConfigurationError, InvalidInput

HEAD_ROW = 1
SYSTEM = "system"
ACTION_PATTERN = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
ACTOR_MAX = 128


class Action(StrEnum):
    """The actions Tutela itself records; any other lower-case name is accepted for plug-ins."""

    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    VIEW = "view"
    REVEAL = "reveal"
    DECISION = "decision"
    EXPORT = "export"
    SETTING_CHANGE = "setting_change"
    KEY_USE = "key_use"
    USER_CREATE = "user_create"
    USER_DISABLE = "user_disable"
    VAULT_PRESERVE = "vault_preserve"
    VAULT_OPEN = "vault_open"
    VAULT_EXTEND = "vault_extend"
    VAULT_PURGE = "vault_purge"
    VAULT_ROTATE = "vault_rotate"


class Subject(NamedTuple):
    """What an entry is about: a kind of thing and its id (`Subject("case", "42")`)."""

    type: str
    id: str


@dataclass(frozen=True, slots=True)
class EntryView:
    seq: int
    at: datetime
    actor: str
    action: str
    subject: Subject | None
    details: dict[str, Any]
    prev_hash: str
    entry_hash: str

    def as_dict(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "subject_type": self.subject.type if self.subject else None,
            "subject_id": self.subject.id if self.subject else None,
            "details": self.details,
            "prev_hash": self.prev_hash,
            "entry_hash": self.entry_hash,
        }


def user_actor(user_id: int) -> str:
    return f"user:{user_id}"


def api_key_actor(name: str) -> str:
    return f"apikey:{name}"


def record(
    session: Session,
    actor: str,
    action: str,
    subject: Subject | None = None,
    details: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> EntryView:
    """Append one entry inside the caller's transaction, which commits it with the act itself.

    `details` must be plain JSON values; bytes are refused, so content can never be logged.
    """
    if not ACTION_PATTERN.match(action):
        raise InvalidInput(f"audit action must be lower-case letters, digits, _ or .: {action!r}")
    if not actor or len(actor) > ACTOR_MAX:
        raise InvalidInput(f"audit actor must be 1-{ACTOR_MAX} characters")
    plain = _plain_details(details or {})
    # The head row lock (FOR UPDATE on PostgreSQL; SQLite's writer lock already serialises every
    # writing transaction) makes appends take turns, so two can never claim the same predecessor.
    head = session.scalar(select(AuditHead).where(AuditHead.id == HEAD_ROW).with_for_update())
    if head is None:
        raise ConfigurationError("the audit log has no head row; run `tutela db upgrade`")
    at = (now or utc_now()).astimezone(UTC)
    entry = AuditEntry(
        seq=head.seq + 1,
        at=at,
        actor=actor,
        action=str(action),
        subject_type=subject.type if subject else None,
        subject_id=subject.id if subject else None,
        details=plain,
        prev_hash=head.entry_hash,
    )
    entry.entry_hash = entry_hash_of(entry)
    session.add(entry)
    head.seq = entry.seq
    head.entry_hash = entry.entry_hash
    session.flush()
    return view_of(entry)


def entry_hash_of(entry: AuditEntry, *, seq: int | None = None) -> str:
    """SHA-256 over the canonical JSON of the entry, its predecessor's hash included."""
    canonical = {
        "seq": entry.seq if seq is None else seq,
        "at": entry.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": entry.actor,
        "action": entry.action,
        "subject_type": entry.subject_type,
        "subject_id": entry.subject_id,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
    }
    return hashlib.sha256(canonical_json(canonical).encode()).hexdigest()


def canonical_json(value: object) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def list_entries(
    session: Session, *, after_seq: int = 0, limit: int = 100, action: str | None = None
) -> list[EntryView]:
    """Entries in chain order, for the auditor's screen and `tutela audit list`."""
    query = select(AuditEntry).where(AuditEntry.seq > after_seq)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    rows = session.scalars(query.order_by(AuditEntry.seq).limit(limit))
    return [view_of(row) for row in rows]


def view_of(entry: AuditEntry) -> EntryView:
    subject = None
    if entry.subject_type is not None:
        subject = Subject(entry.subject_type, entry.subject_id or "")
    return EntryView(
        seq=entry.seq,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        subject=subject,
        details=dict(entry.details),
        prev_hash=entry.prev_hash,
        entry_hash=entry.entry_hash,
    )


def _plain_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """The details as they will read back from the JSON column, so the hash is stable."""
    try:
        text = canonical_json(dict(details))
    except (TypeError, ValueError):
        raise InvalidInput(
            "audit details must be JSON values (text, numbers, lists, objects); bytes are never "
            "recorded"
        ) from None
    loaded: dict[str, Any] = json.loads(text)
    return loaded
