"""Tables of the measures a confirmed case leads to: takedown requests to the platform, notices
to the user held through the silence period, and users' complaints about decisions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Identity, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tutela.auth.platforms import DEFAULT_PLATFORM, PLATFORM_MAX
from tutela.clock import utc_now
from tutela.db.base import Base
from tutela.db.checks import state_check
from tutela.db.types import BigId, UtcDateTime


class TakedownState(StrEnum):
    """A takedown request's `state` (tutela.enforcement.takedown)."""

    WAITING = "waiting"  # the hold wait runs: not sent yet, so that a hold can still arrive
    REQUESTED = "requested"
    HELD = "held"  # an authority asked the provider not to remove yet (Art 48(6)-(7))
    CONFIRMED = "confirmed"  # the platform confirmed the removal
    CANCELLED = "cancelled"  # a complaint reversed the decision before removal


class NoticeState(StrEnum):
    """A user notice's `state` (tutela.enforcement.notices)."""

    HELD = "held"  # the silence period runs (Art 12(2))
    RELEASED = "released"
    WITHDRAWN = "withdrawn"


class ComplaintState(StrEnum):
    """A complaint's `state` (tutela.review.complaints)."""

    OPEN = "open"
    UPHELD = "upheld"  # the complaint is right: the decision is reversed
    REJECTED = "rejected"


class TakedownRequest(Base):
    """Asks the platform to remove an item; sent again until the platform confirms removal."""

    __tablename__ = "takedown_requests"
    __table_args__ = (
        Index("ix_takedown_requests_state_next", "state", "next_send_at"),
        state_check("state", TakedownState),
    )

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    item_id: Mapped[int] = mapped_column(BigId, index=True)
    item_ref: Mapped[str] = mapped_column(String(256))
    state: Mapped[str] = mapped_column(String(16))
    account_action: Mapped[str] = mapped_column(String(32))
    sends: Mapped[int] = mapped_column(Integer, default=0)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    next_send_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    confirmation: Mapped[dict[str, Any] | None] = mapped_column(
        JSON(none_as_null=True), nullable=True
    )


class UserNotice(Base):
    """What the platform must tell its user, held back while a silence period runs (Art 12(2))."""

    __tablename__ = "user_notices"
    __table_args__ = (
        Index("ix_user_notices_state_hold", "state", "hold_until"),
        state_check("state", NoticeState),
    )

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(BigId)
    item_ref: Mapped[str] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(32))
    body: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16))
    hold_until: Mapped[datetime] = mapped_column(UtcDateTime)
    hold_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Complaint(Base):
    """A user's complaint about a decision, forwarded by the platform (DSA Art 20)."""

    __tablename__ = "complaints"
    __table_args__ = (
        UniqueConstraint("platform", "complaint_ref"),
        state_check("state", ComplaintState),
    )

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    # The platform that forwarded it (the item's): only its API keys see the complaint.
    platform: Mapped[str] = mapped_column(String(PLATFORM_MAX), server_default=DEFAULT_PLATFORM)
    # The platform's own id of the complaint: a repeated submission returns the first.
    complaint_ref: Mapped[str] = mapped_column(String(256))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(BigId)
    grounds: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
