"""The audit entry of a signed document another node sent (tutela.messaging.signed_intake): every
intake stores the document's row and records who sent it, what it was and when it came, the same
way. It lives here, not beside SignedIntake, because messaging sits below the audit log."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session

from tutela.audit.log import ACTOR_MAX, Subject, record
from tutela.messaging.signed_intake import Received


class Stored(Protocol):
    """A stored row: it has its id once flushed."""

    @property
    def id(self) -> int: ...


Row = TypeVar("Row", bound=Stored)


def sender_actor(party: str, name: str) -> str:
    """The audit actor of a sending node: `provider:<name>`, `authority:<name>`."""
    return f"{party}:{name}"[:ACTOR_MAX]


def record_receipt(
    session: Session,
    row: Row,
    received: Received,
    *,
    sender: str,
    action: str,
    subject: Subject | str,
    detail: Mapping[str, Any],
) -> Row:
    """Store `row` (the received document, or what it is kept as) and audit its receipt by
    `sender` at the time the document was received. `subject` is the entry's subject, or the
    kind of subject the stored row's own id names."""
    session.add(row)
    session.flush()
    if isinstance(subject, str):
        subject = Subject(subject, str(row.id))
    record(session, sender, action, subject, dict(detail), now=received.now)
    return row
