"""Tables of the centre: registered providers, the reports database (Art 45), incidents that
join reports of the same material, forwarding records (Art 48) and routing rules."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tutela.clock import utc_now
from tutela.db.base import Base
from tutela.db.checks import state_check
from tutela.db.types import BigId, UtcDateTime


class CentreProvider(Base):
    """A provider allowed to report, known by the Ed25519 key it registered."""

    __tablename__ = "centre_providers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    country: Mapped[str] = mapped_column(String(2), default="")
    public_key_pem: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    # Where the centre posts what the provider must learn (Art 48(2), (6)-(7)); None: nowhere yet.
    endpoint_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)


class Recipient(Base):
    """Europol or a Member State's LEA, and the endpoint forwarded reports are posted to."""

    __tablename__ = "centre_recipients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(String(2048))
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class CentreIndicator(Base):
    """Art 44(1)-(3): an indicator with its generation record: which report, which analyst,
    when, and the national authority's confirmation it rests on."""

    __tablename__ = "centre_indicators"
    __table_args__ = (
        UniqueConstraint("signal_type", "value"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    signal_type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("centre_reports.id"))
    analyst: Mapped[str] = mapped_column(String(128))
    authority_confirmation: Mapped[str] = mapped_column(String(256))
    confirmed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    withdrawn_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Further PDQs of a PDQ indicator ([[name, hex], …]: crops of the confirmed image, issue
    # 16), published with it in the feed so that providers match crops of it too.
    variants: Mapped[list[list[str]] | None] = mapped_column(JSON(none_as_null=True), nullable=True)


class FeedEntry(Base):
    """One entry of the published indicator feed; `seq` only grows, subscribers resume after it."""

    __tablename__ = "centre_indicator_feed"
    __table_args__ = ({"sqlite_autoincrement": True},)

    seq: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("centre_indicators.id"))
    op: Mapped[str] = mapped_column(String(8))  # add | remove
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class Incident(Base):
    """Reports of the same material, from any provider (exact hash equal, or PDQ close)."""

    __tablename__ = "centre_incidents"

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class ReportStatus(StrEnum):
    """A received report's `status`: waiting for its assessment, or what the assessment found."""

    RECEIVED = "received"
    UNFOUNDED = "unfounded"  # Art 48(2): manifestly unfounded, the provider is told
    FORWARDED = "forwarded"  # Art 48(3): sent on to Europol and the competent authorities
    INFORMATION_REQUESTED = "information_requested"  # Art 48(1): more asked of the provider


class CentreReport(Base):
    """Art 45(2): the report as signed, its assessment, and where it went."""

    __tablename__ = "centre_reports"
    __table_args__ = (
        UniqueConstraint("provider_id", "idempotency_key"),
        Index("ix_centre_reports_status_urgent", "status", "urgent"),
        state_check("status", ReportStatus),
        # Replays: one signed report is stored once, whatever Idempotency-Key it comes with.
        Index(
            "ux_centre_reports_provider_signature", "provider_id", "signature_digest", unique=True
        ),
    )

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("centre_providers.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(128))
    report_uid: Mapped[str] = mapped_column(String(64))
    # The exact signed bytes (canonical JSON) and the detached signature: evidence as received.
    body: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(128))
    # SHA-256 of the signature's bytes (tutela.messaging.signing.signature_digest); None only on
    # reports received before replays were recognised.
    signature_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    key_id: Mapped[str] = mapped_column(String(32))
    signed_at: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    kind: Mapped[str] = mapped_column(String(16))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    removed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # The Member State the report points to (upload geo data, else the service's country).
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    status: Mapped[str] = mapped_column(String(32), default=ReportStatus.RECEIVED)
    assessed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    unfounded_reasons: Mapped[str | None] = mapped_column(Text, nullable=True)
    provider_notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    information_requested: Mapped[list[str] | None] = mapped_column(
        JSON(none_as_null=True), nullable=True
    )
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("centre_incidents.id"), nullable=True, index=True
    )
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The incident intake answered with; a later merge moves `incident_id`, but a replay is
    # answered as the original was.
    intake_incident_id: Mapped[int | None] = mapped_column(BigId, nullable=True)


class CentreReportHash(Base):
    """A hash a report carries, indexed for linking reports of the same material."""

    __tablename__ = "centre_report_hashes"
    __table_args__ = (Index("ix_centre_report_hashes_type_value", "signal_type", "value"),)

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("centre_reports.id", ondelete="CASCADE"), index=True
    )
    signal_type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(128))


class Forwarding(Base):
    """Art 45(2)(c): when, and to whom, a report was forwarded."""

    __tablename__ = "centre_forwardings"
    __table_args__ = (UniqueConstraint("report_id", "recipient"),)

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("centre_reports.id", ondelete="CASCADE"), index=True
    )
    recipient: Mapped[str] = mapped_column(String(64))
    forwarded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    outbox_message_id: Mapped[int | None] = mapped_column(BigId, nullable=True)


class RoutingRule(Base):
    """Art 48(3): the competent law-enforcement authority of a Member State."""

    __tablename__ = "centre_routing_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    country: Mapped[str] = mapped_column(String(2), unique=True)
    recipient: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
