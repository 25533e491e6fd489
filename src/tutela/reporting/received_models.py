"""Signed messages this node took from another (the centre's word to a provider), kept so that a
replay is recognised by its signature's digest and answered as the first delivery was."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Identity, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tutela.clock import utc_now
from tutela.db.base import Base
from tutela.db.types import BigId, UtcDateTime


class ReceivedSignedMessage(Base):
    """One signed message taken: who signed it, the digest of its signature, and the answer."""

    __tablename__ = "received_signed_messages"
    __table_args__ = (
        UniqueConstraint("sender_key_id", "signature_digest"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    sender_key_id: Mapped[str] = mapped_column(String(32))
    signature_digest: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    signed_at: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    # The JSON answered the first time; a replay gets it again.
    answer: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
