"""Tables of the indicators domain: banks, indicators, the change sequence, fetch checkpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from tutela.clock import utc_now
from tutela.db.base import Base
from tutela.db.types import BigId, UtcDateTime


class Bank(Base):
    """A named list of indicators from one source, with its own match thresholds."""

    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(64), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Confirmed by an authority (the EU Centre, a hotline); policy may act with less review.
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    pdq_threshold: Mapped[int] = mapped_column(Integer, default=31)
    # PDQ matches above the threshold and up to this distance go to people for review only.
    review_distance: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Also match uploads' robust query variants (frames trimmed, small rotations undone).
    robust: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # vPDQ: a video matches a banked one when at least these shares (percent) of the query's
    # frames and of the banked video's frames have a match within pdq_threshold.
    vpdq_query_match: Mapped[float] = mapped_column(Float, default=80.0, server_default="80")
    vpdq_compared_match: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class Indicator(Base):
    """One hash in one bank; unique per (bank, signal type, value)."""

    __tablename__ = "indicators"
    __table_args__ = (
        UniqueConstraint("bank_id", "signal_type", "value"),
        Index("ix_indicators_bank_external", "bank_id", "external_id"),
        # Ids are cited by matches and reports; SQLite must never hand a deleted one out again.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    signal_type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(128))
    # Provenance: where the hash came from (a file name, an exchange) and its id there.
    source: Mapped[str | None] = mapped_column(String(256), nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    disabled_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    meta: Mapped[dict[str, Any] | None] = mapped_column(
        "metadata", JSON(none_as_null=True), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class IndicatorChange(Base):
    """One entry of the change sequence that matchers follow; `seq` only ever grows."""

    __tablename__ = "indicator_changes"
    # AUTOINCREMENT: SQLite never reuses a sequence number, even after the newest row is deleted.
    __table_args__ = ({"sqlite_autoincrement": True},)

    seq: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    # No foreign keys: a change outlives the bank or indicator it describes.
    bank_id: Mapped[int] = mapped_column(Integer)
    indicator_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    op: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class FetchCheckpoint(Base):
    """Where a bank's fetch from an exchange got to, so that the next run resumes there."""

    __tablename__ = "fetch_checkpoints"

    bank_id: Mapped[int] = mapped_column(
        ForeignKey("banks.id", ondelete="CASCADE"), primary_key=True
    )
    exchange: Mapped[str] = mapped_column(String(32))
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
