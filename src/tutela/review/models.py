"""Tables of the review domain: every decision a person took on a case, and each reviewer's
wellness preferences for looking at material."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Identity, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tutela.clock import utc_now
from tutela.db.base import Base
from tutela.db.checks import state_check
from tutela.db.types import BigId, UtcDateTime
from tutela.detection.models import CaseState


class ReviewDecision(Base):
    """One person's decision on one case. A case may collect several: an escalation, then a
    senior's decision; or two confirmations under the four-eyes rule."""

    __tablename__ = "review_decisions"
    __table_args__ = (state_check("status_after", CaseState),)

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reviewer: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    # The case's status this decision left it in.
    status_after: Mapped[str] = mapped_column(String(16))
    # What the decision set in motion: vault record, report, takedown, notice, or why not.
    effects: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class ReviewerPreference(Base):
    """How one reviewer wants material shown: wellness settings kept per person."""

    __tablename__ = "reviewer_preferences"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    blur_px: Mapped[int] = mapped_column(Integer, default=12)
    greyscale: Mapped[bool] = mapped_column(Boolean, default=True)
    autoplay: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
