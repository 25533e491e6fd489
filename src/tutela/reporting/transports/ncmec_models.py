"""Tables of the NCMEC transport: one row per CyberTipline report with its state and report id,
one per file with its file id, and the encrypted reporting credentials."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Identity, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tutela.clock import utc_now
from tutela.db.base import Base
from tutela.db.types import BigId, UtcDateTime


class NcmecReport(Base):
    """Where one CyberTipline report stands; once `report_id` is set it is never submitted again."""

    __tablename__ = "ncmec_reports"

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    # The outbox message's idempotency key: one NCMEC report per outbox message.
    message_key: Mapped[str] = mapped_column(String(128), unique=True)
    # new | submitting | submitted | finished
    state: Mapped[str] = mapped_column(String(16), default="new")
    report_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The reported account, so a follow-up report can cite earlier ones (priorCTReports).
    account_id: Mapped[str | None] = mapped_column(String(256), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class NcmecFile(Base):
    __tablename__ = "ncmec_files"
    __table_args__ = (UniqueConstraint("ncmec_report_id", "position"),)

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    ncmec_report_id: Mapped[int] = mapped_column(
        ForeignKey("ncmec_reports.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    item_ref: Mapped[str] = mapped_column(String(256))
    # pending | uploaded | described | unavailable (the provider no longer holds the content)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    file_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class NcmecCredential(Base):
    """CyberTipline reporting credentials, sealed with AES-GCM under TUTELA_SECRETS_KEY."""

    __tablename__ = "ncmec_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
