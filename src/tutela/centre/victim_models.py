"""Tables of victims' requests (Art 20-21): the authorities and hotlines registered to ask on a
victim's behalf, and each request with the answer it got. A request's hashes are not kept: only
how many there were, and the answer (which names reports of the centre, never a person)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Identity, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tutela.clock import utc_now
from tutela.db.base import Base
from tutela.db.types import BigId, UtcDateTime


class VictimRequester(Base):
    """An authority or registered hotline that asks for victims, known by its Ed25519 key."""

    __tablename__ = "victim_requesters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    # authority | hotline (Art 21(1): through an authority or an organisation it names)
    kind: Mapped[str] = mapped_column(String(16))
    public_key_pem: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class VictimRequest(Base):
    """One signed request and the answer it got; a replay is answered with `answer` again."""

    __tablename__ = "victim_requests"
    __table_args__ = (UniqueConstraint("requester_id", "signature_digest"),)

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("victim_requesters.id"), index=True)
    signature_digest: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    signed_at: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    hash_count: Mapped[int] = mapped_column(Integer)
    matched_reports: Mapped[int] = mapped_column(Integer)
    removal_requests: Mapped[int] = mapped_column(Integer, default=0)
    answer: Mapped[dict[str, Any]] = mapped_column(JSON)
