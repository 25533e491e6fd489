"""Table of the follow-ups providers send about their reports (removal confirmed later, another
organisation's case number, a retraction): Art 45(2) keeps them with the report."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Identity, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tutela.clock import utc_now
from tutela.db.base import Base
from tutela.db.types import BigId, UtcDateTime


class CentreReportUpdate(Base):
    """One signed follow-up, as received: evidence of what the provider said, and when."""

    __tablename__ = "centre_report_updates"
    __table_args__ = (UniqueConstraint("provider_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("centre_providers.id"))
    report_id: Mapped[int] = mapped_column(
        ForeignKey("centre_reports.id", ondelete="CASCADE"), index=True
    )
    # report_update | report_retraction
    kind: Mapped[str] = mapped_column(String(32))
    # The key signed inside the message: a replay under any header is the same follow-up.
    idempotency_key: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(128))
    key_id: Mapped[str] = mapped_column(String(32))
    signed_at: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
