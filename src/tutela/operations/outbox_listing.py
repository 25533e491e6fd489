"""Messages to other nodes as the operator sees them: listed by status and transport, and a failed
one sent again after its cause was fixed (audited)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.audit.log import Subject, record
from tutela.db.database import Database
from tutela.errors import NotFound
from tutela.messaging.outbox import requeue
from tutela.messaging.outbox_models import MessageStatus, OutboxMessage

RETRY_ACTION = "outbox_retry"
BIGINT_END = 2**63  # ids are 64-bit: a larger number names no message (and must not reach SQL)


@dataclass(frozen=True, slots=True)
class MessageView:
    """A message without its payload (hashes and report fields stay out of listings)."""

    id: int
    transport: str
    kind: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    status_changed_at: datetime
    remote_ref: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "transport": self.transport,
            "kind": self.kind,
            "status": self.status,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "created_at": self.created_at.isoformat(),
            "next_attempt_at": self.next_attempt_at.isoformat(),
            "status_changed_at": self.status_changed_at.isoformat(),
            "remote_ref": self.remote_ref,
        }


def list_messages(
    session: Session,
    *,
    failed_only: bool = False,
    transport: str | None = None,
    limit: int = 100,
) -> list[MessageView]:
    """Messages newest first, narrowed to failed ones and to one transport (destination)."""
    query = select(OutboxMessage)
    if failed_only:
        query = query.where(OutboxMessage.status == MessageStatus.FAILED)
    if transport is not None:
        query = query.where(OutboxMessage.destination == transport)
    rows = session.scalars(query.order_by(OutboxMessage.id.desc()).limit(limit))
    return [_view(row) for row in rows]


def retry_message(database: Database, message_id: int, actor: str, now: datetime) -> MessageView:
    """Queue a failed message again with a fresh attempt count; its alert resolves at the next
    scan. InvalidInput unless it failed; audited with the error it had failed with."""
    if not 0 < message_id < BIGINT_END:
        raise NotFound(f"no outbox message {message_id}")
    with database.unit_of_work() as session:
        before = session.get(OutboxMessage, message_id)
        error = before.last_error if before is not None else None
        message = requeue(session, message_id, now)
        record(
            session,
            actor,
            RETRY_ACTION,
            Subject("outbox_message", str(message.id)),
            {"transport": message.destination, "kind": message.kind, "failed_with": error},
            now=now,
        )
        return _view(message)


def _view(row: OutboxMessage) -> MessageView:
    return MessageView(
        id=row.id,
        transport=row.destination,
        kind=row.kind,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        status_changed_at=row.status_changed_at,
        remote_ref=row.remote_ref,
    )
