"""Tables of the detection domain: items and their payloads, jobs, matches, cases, bank policies,
the safe list, flood alerts, and webhook endpoints with their outbox of deliveries."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tutela.auth.platforms import DEFAULT_PLATFORM, PLATFORM_MAX
from tutela.clock import utc_now
from tutela.db.base import Base
from tutela.db.checks import state_check
from tutela.db.types import BigId, UtcDateTime


class ItemStatus(StrEnum):
    """An item's `status`: waiting for a worker, being decided (a batch scan's), or decided."""

    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"


class JobState(StrEnum):
    """A job's `state` in the durable queue: waiting, or leased to a worker until its lease ends."""

    QUEUED = "queued"
    LEASED = "leased"


class CaseState(StrEnum):
    """A case's `status`: detection opens it, review decides it (tutela.review.decisions)."""

    OPEN = "open"  # waiting for a reviewer
    ESCALATED = "escalated"  # waiting for a senior reviewer
    SECOND_REVIEW = "second_review"  # four-eyes: one confirmation given, a second must agree
    CONFIRMED = "confirmed"  # abuse confirmed; evidence, report, takedown and notice under way
    DISMISSED = "dismissed"  # not abuse; the matched values are on the safe list
    REVERSED = "reversed"  # a complaint overturned the confirmation (DSA Art 20(4))


# The cases still waiting for a decision.
UNDECIDED = frozenset({CaseState.OPEN, CaseState.ESCALATED, CaseState.SECOND_REVIEW})


class DeliveryState(StrEnum):
    """A webhook delivery's `state`: sent until the endpoint takes it, or given up."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class Item(Base):
    """One upload (or hash-only submission) from a platform, from acceptance to its one verdict."""

    __tablename__ = "items"
    # An item is its platform's id for it and the SHA-256 of its content: the same three again
    # are a replay (the existing item answers); the same id with other content is a new item.
    __table_args__ = (
        UniqueConstraint("platform", "item_ref", "content_digest"),
        state_check("status", ItemStatus),
    )

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    platform: Mapped[str] = mapped_column(String(PLATFORM_MAX), server_default=DEFAULT_PLATFORM)
    # The platform's own id.
    item_ref: Mapped[str] = mapped_column(String(256))
    # SHA-256 (hex) of the upload's bytes, or of a hash-only submission's canonical signals;
    # "" for items stored before migration 0008 (their content was never recorded).
    content_digest: Mapped[str] = mapped_column(String(64), server_default="")
    status: Mapped[str] = mapped_column(String(16), default=ItemStatus.QUEUED)
    verdict: Mapped[str | None] = mapped_column(String(16), nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Hashes only (never content): given by a hash-only submission, or computed by a worker.
    signals: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The detection basis (tutela.detection.basis_models) its detection ran under, if any.
    detection_basis_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Why a `no_match` verdict was given without matching (`not_under_order`).
    verdict_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)


class ItemPayload(Base):
    """The uploaded bytes, kept only until a worker has hashed them (content stays in the node);
    an item whose verdict opened a case keeps them, sealed, until its review (held_payloads)."""

    __tablename__ = "item_payloads"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    # Plaintext while `key_id` is None (awaiting hashing), else AES-GCM ciphertext.
    data: Mapped[bytes] = mapped_column(LargeBinary)
    # The vault master key that wraps `wrapped_key`, the payload's own data key.
    key_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # A held video: how many `item_payload_chunks` hold it, and `data` is the sealed stream's
    # header (tutela.messaging.crypto.StreamSealer); None for content held whole.
    chunks: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ItemPayloadChunk(Base):
    """One chunk of a video held for review, sealed as a stream; deleted with its payload."""

    __tablename__ = "item_payload_chunks"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("item_payloads.item_id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Job(Base):
    """A unit of work in the durable queue; deleted when its item has its verdict."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_state_lease", "state", "leased_until"),
        state_check("state", JobState),
    )

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), unique=True)
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    leased_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    leased_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    # A video upload's file, relative to the data directory (tutela.detection.video_queue); it is
    # removed once the verdict is committed. None: the content is in item_payloads, or none.
    spool_path: Mapped[str | None] = mapped_column(String(512), nullable=True)


class ItemMatch(Base):
    """One indicator an item matched, with what policy made of it."""

    __tablename__ = "item_matches"
    __table_args__ = (Index("ix_item_matches_indicator_at", "indicator_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    bank_id: Mapped[int] = mapped_column(Integer)
    bank: Mapped[str] = mapped_column(String(64))
    indicator_id: Mapped[int] = mapped_column(BigId)
    signal_type: Mapped[str] = mapped_column(String(32))
    distance: Mapped[int] = mapped_column(Integer)
    variant: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # A video's match: vPDQ's shares, the matched frames' times (tutela.indicators.matcher_videos).
    video: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    # action | review | ignore | safelisted
    outcome: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    # The detection basis (order or voluntary) the match ran under; None before migration 0019.
    basis_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Case(Base):
    """Opened for every `review` or `action` verdict, for a person to look at (DESIGN rule 3)."""

    __tablename__ = "cases"
    __table_args__ = (state_check("status", CaseState),)

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    platform: Mapped[str] = mapped_column(String(PLATFORM_MAX), server_default=DEFAULT_PLATFORM)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=CaseState.OPEN)
    priority: Mapped[int] = mapped_column(Integer)
    # The matches that opened it (bank, indicator, signal, distance, variant), frozen at opening.
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class BankPolicy(Base):
    """What matches of one bank lead to; a bank without a row gets the defaults (review only)."""

    __tablename__ = "bank_policies"

    bank_id: Mapped[int] = mapped_column(
        ForeignKey("banks.id", ondelete="CASCADE"), primary_key=True
    )
    # Set only by an administrator, only for a verified bank; None means never `action`.
    action_pdq_distance: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action_exact: Mapped[bool] = mapped_column(Boolean, default=False)
    # PDQ matches farther than this are ignored; None keeps everything the matcher returns.
    ignore_pdq_above: Mapped[int | None] = mapped_column(Integer, nullable=True)
    flood_count: Mapped[int] = mapped_column(Integer, default=100)
    flood_window_s: Mapped[int] = mapped_column(Integer, default=3600)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class SafeEntry(Base):
    """A known false positive: an item whose signal has this value matches nothing."""

    __tablename__ = "safelist"
    __table_args__ = (UniqueConstraint("signal_type", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signal_type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class FloodAlert(Base):
    """An indicator that matched too often: it gives `review` only until `review_only_until`."""

    __tablename__ = "flood_alerts"
    __table_args__ = (
        Index("ix_flood_alerts_indicator_until", "indicator_id", "review_only_until"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    indicator_id: Mapped[int] = mapped_column(BigId)
    bank_id: Mapped[int] = mapped_column(Integer)
    matches: Mapped[int] = mapped_column(Integer)
    window_s: Mapped[int] = mapped_column(Integer)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    review_only_until: Mapped[datetime] = mapped_column(UtcDateTime)


class Webhook(Base):
    """A platform endpoint that receives the verdicts (and later messages) on the platform's
    items, signed with its secret."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Receives the messages about its platform's items only.
    platform: Mapped[str] = mapped_column(String(PLATFORM_MAX), server_default=DEFAULT_PLATFORM)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class WebhookDelivery(Base):
    """One message in the outbox: written with the verdict, sent until the endpoint takes it."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_state_due", "state", "next_attempt_at"),
        state_check("state", DeliveryState),
    )

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    platform: Mapped[str] = mapped_column(String(PLATFORM_MAX), server_default=DEFAULT_PLATFORM)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(BigId)
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class DeliveryAttempt(Base):
    """One try at a delivery: the answer's status code or why there was none."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
