"""Tables of the outbox: every message to another node, written with the decision that causes it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Identity, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tutela.clock import utc_now
from tutela.db.base import Base
from tutela.db.checks import state_check
from tutela.db.types import BigId, UtcDateTime


class MessageStatus(StrEnum):
    """An outbox message's `status`: sent until the receiver took it, given up, or what the
    receiver later said of it."""

    QUEUED = "queued"
    DELIVERED = "delivered"
    FAILED = "failed"
    ACKNOWLEDGED = "acknowledged"  # the receiver confirmed it stored the message
    # What a receiver may later say about a message it took (Art 48(2)-(3), Art 45).
    UNFOUNDED = "unfounded"
    FORWARDED = "forwarded"
    INFORMATION_REQUESTED = "information_requested"


class OutboxMessage(Base):
    """One message and where it stands: sent until the receiver took it, then followed by what
    the receiver says of it (acknowledged, unfounded, forwarded, information requested)."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        UniqueConstraint("destination", "idempotency_key"),
        Index("ix_outbox_messages_status_due", "status", "next_attempt_at"),
        state_check("status", MessageStatus),
    )

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    destination: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    # JSON text of hashes and metadata; content bytes only ever inside a signed report body.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    idempotency_key: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(32), default=MessageStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    # A sender's claim: no other sender touches the row until it runs out (a crashed sender).
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # Error class or status only, never a body (it could echo content).
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    remote_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)
    remote_detail: Mapped[dict[str, Any] | None] = mapped_column(
        JSON(none_as_null=True), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    status_changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
