"""Taking a signed message from the centre once: verified, inside the signing window, recognised
again by its signature's digest and answered as it was the first time (DESIGN contracts: receivers
refuse stale messages and answer a replay as they answered the original).

A message signed outside the window (TUTELA_SIGNED_MESSAGE_MAX_AGE_S, …_MAX_SKEW_S) is refused
unless it is one already taken; what a message does is `tutela.enforcement.centre_messages`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Insert, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tutela.db.database import Database
from tutela.enforcement.centre_messages import apply_centre_message
from tutela.errors import StaleSignature
from tutela.messaging.messages import open_message
from tutela.messaging.signing import SigningWindow, signature_digest
from tutela.reporting.received_models import ReceivedSignedMessage


def receive_centre_message(
    database: Database,
    centre_key: Ed25519PublicKey,
    key_id: str,
    body: bytes,
    signature: str,
    now: datetime,
    *,
    window: SigningWindow,
    max_hold_days: int,
) -> dict[str, Any]:
    """Verify one message from the centre and apply it, once, in one transaction: the service
    call of `POST /v1/centre-messages`."""
    message = open_message(centre_key, key_id, body, signature)
    digest = signature_digest(signature)
    with database.unit_of_work() as session:
        try:
            window.check(message.signed_at, now)
        except StaleSignature:
            earlier = _answer_of(session, key_id, digest)
            if earlier is None:
                raise
            return earlier
        # Claimed before it is applied: a delivery racing this one waits on this transaction's
        # row, then finds it and its answer.
        connection = session.connection()
        claimed = connection.execute(
            _claim(connection.dialect.name),
            {
                "sender_key_id": key_id,
                "signature_digest": digest,
                "kind": message.kind[:32],
                "signed_at": message.signed_at[:40],
                "received_at": now,
                "answer": {},
            },
        ).scalar()
        if claimed is None:
            earlier = _answer_of(session, key_id, digest)
            assert earlier is not None  # the row that conflicted is committed, with its answer
            return earlier
        answer = apply_centre_message(session, message, now, max_hold_days=max_hold_days)
        session.execute(
            update(ReceivedSignedMessage)
            .where(ReceivedSignedMessage.id == claimed)
            .values(answer=answer)
        )
        return answer


def _answer_of(session: Session, key_id: str, digest: str) -> dict[str, Any] | None:
    answer: dict[str, Any] | None = session.scalar(
        select(ReceivedSignedMessage.answer).where(
            ReceivedSignedMessage.sender_key_id == key_id,
            ReceivedSignedMessage.signature_digest == digest,
        )
    )
    return answer


def _claim(dialect: str) -> Insert:
    table = ReceivedSignedMessage.__table__
    assert isinstance(table, Table)
    build = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        build(table)
        .on_conflict_do_nothing(index_elements=["sender_key_id", "signature_digest"])
        .returning(ReceivedSignedMessage.id)
    )
