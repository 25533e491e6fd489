"""Tables of the NCMEC transport: one row per CyberTipline report with its state and report id,
one per file with its file id, and the encrypted reporting credentials."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Identity, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tutela.clock import utc_now
from tutela.db.base import Base
from tutela.db.checks import state_check
from tutela.db.types import BigId, UtcDateTime


class NcmecReportState(StrEnum):
    """A CyberTipline report's `state`: opened at NCMEC, files uploading, submitted, finished."""

    NEW = "new"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    FINISHED = "finished"


class NcmecFileState(StrEnum):
    """A report's file: waiting, uploaded, described, or no longer held by the provider."""

    PENDING = "pending"
    UPLOADED = "uploaded"
    DESCRIBED = "described"
    UNAVAILABLE = "unavailable"


class NcmecReport(Base):
    """Where one CyberTipline report stands; once `report_id` is set it is never submitted again."""

    __tablename__ = "ncmec_reports"
    __table_args__ = (state_check("state", NcmecReportState),)

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    # The outbox message's idempotency key: one NCMEC report per outbox message.
    message_key: Mapped[str] = mapped_column(String(128), unique=True)
    state: Mapped[str] = mapped_column(String(16), default=NcmecReportState.NEW)
    report_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The reported account, so a follow-up report can cite earlier ones (priorCTReports).
    account_id: Mapped[str | None] = mapped_column(String(256), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class NcmecFile(Base):
    __tablename__ = "ncmec_files"
    __table_args__ = (
        UniqueConstraint("ncmec_report_id", "position"),
        state_check("state", NcmecFileState),
    )

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    ncmec_report_id: Mapped[int] = mapped_column(
        ForeignKey("ncmec_reports.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    item_ref: Mapped[str] = mapped_column(String(256))
    state: Mapped[str] = mapped_column(String(16), default=NcmecFileState.PENDING)
    file_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class NcmecCredential(Base):
    """CyberTipline reporting credentials, sealed with AES-GCM under TUTELA_SECRETS_KEY."""

    __tablename__ = "ncmec_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
