"""Queueing the database copies for the `dsa-tdb` transport: statements made between two
deliveries share one outbox message, up to the database's 100 per call, so that a busy node
sends one POST per hundred decisions rather than one per decision."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.messaging.outbox import enqueue
from tutela.messaging.outbox_models import MessageStatus, OutboxMessage

DESTINATION = "dsa-tdb"
KIND = "dsa_statements"
# The Transparency Database takes at most 100 statements in one call to /api/v1/statements.
BATCH_MAX = 100


def queue_database_copy(session: Session, copy: dict[str, Any], now: datetime) -> OutboxMessage:
    """Add one statement to the open batch, or open a new one, inside the caller's transaction.

    A batch is open only while no sender ever claimed it (no try, no claim token): from its first
    claim on, what a retry sends is exactly what the first try sent. The row lock keeps two
    decisions from appending at once; on PostgreSQL a sender that claims skips a locked row, and
    a decision that waited for a claim sees the claim token and opens a new batch."""
    batch = session.scalar(
        select(OutboxMessage)
        .where(
            OutboxMessage.destination == DESTINATION,
            OutboxMessage.status == MessageStatus.QUEUED,
            OutboxMessage.attempts == 0,
            OutboxMessage.claim_token.is_(None),
        )
        .order_by(OutboxMessage.id.desc())
        .limit(1)
        .with_for_update()
    )
    if batch is not None:
        statements = list(batch.payload.get("statements", []))
        if len(statements) < BATCH_MAX:
            # A new dict: the JSON column notices a replaced value, not an edited one.
            batch.payload = {"statements": [*statements, copy]}
            return batch
    # The first statement's puid names the batch: unique, and stable across retries.
    return enqueue(session, DESTINATION, KIND, {"statements": [copy]}, str(copy["puid"]), now)
