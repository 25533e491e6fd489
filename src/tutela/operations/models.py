"""The alerts table: one row per thing the operator must hear about, raised once per occurrence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tutela.clock import utc_now
from tutela.db.base import Base
from tutela.db.types import UtcDateTime


class OperatorAlert(Base):
    """A flood, a failed message, a breached review SLA or an overdue deadline. The subject names
    what it is about; the same subject raises one row, opened again if it recurs after it was
    resolved. Open: neither acknowledged by a person nor resolved by the node."""

    __tablename__ = "operator_alerts"
    __table_args__ = (
        UniqueConstraint("kind", "subject_type", "subject_id"),
        Index("ix_operator_alerts_open", "resolved_at", "acknowledged_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    # Ids, counts and error codes only: never content, never a message body.
    summary: Mapped[str] = mapped_column(String(512))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    # How often the subject raised it (a message that failed again after a retry counts twice).
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
