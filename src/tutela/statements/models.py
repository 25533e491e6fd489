"""The table of statements of reasons, and the states a statement's two copies go through."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Identity, String
from sqlalchemy.orm import Mapped, mapped_column

from tutela.clock import utc_now
from tutela.db.base import Base
from tutela.db.checks import state_check
from tutela.db.types import BigId, UtcDateTime

PUID_MAX = 64
DECISION_REF_MAX = 128


class DatabaseCopyState(StrEnum):
    """Where the copy for the DSA Transparency Database stands."""

    QUEUED = "queued"  # in the outbox, for the `dsa-tdb` transport
    NOT_CONFIGURED = "not_configured"  # TUTELA_DSA_TDB_URL unset when the statement was made


class Statement(Base):
    """One statement of reasons: the user's copy (sent as a held user notice) and the database's
    copy (the Transparency Database's own fields, no personal data), made together."""

    __tablename__ = "statements"
    __table_args__ = (state_check("database_state", DatabaseCopyState),)

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    # The platform unique identifier the database knows the statement by: random, so that it
    # says nothing of the user; stored, so that every retry sends the same one.
    puid: Mapped[str] = mapped_column(String(PUID_MAX), unique=True)
    # What restricted: "review:<decision id>", "order:<order>:<item>"; one statement per decision.
    decision_ref: Mapped[str] = mapped_column(String(DECISION_REF_MAX), unique=True)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL"), nullable=True, index=True
    )
    item_id: Mapped[int] = mapped_column(BigId)
    user_copy: Mapped[dict[str, Any]] = mapped_column(JSON)
    database_copy: Mapped[dict[str, Any]] = mapped_column(JSON)
    notice_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    database_state: Mapped[str] = mapped_column(String(16))
    outbox_message_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
