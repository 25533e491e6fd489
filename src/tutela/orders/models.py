"""Tables of the provider's side of orders: the authorities whose orders it takes, the orders
received, and each ordered item with what became of it. The centre keeps its copies of orders in
`tutela.centre.order_copy_models`, verified against the same `authority_keys` table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Identity, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tutela.clock import utc_now
from tutela.db.base import Base
from tutela.db.checks import state_check
from tutela.db.types import BigId, UtcDateTime
from tutela.orders.states import ItemState, ReceivedState


class AuthorityKey(Base):
    """An authority whose signed orders this node accepts (`tutela authority-key add`)."""

    __tablename__ = "authority_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    public_key_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class ReceivedOrder(Base):
    """One order as received: the exact signed bytes, and where its execution stands."""

    __tablename__ = "received_orders"
    __table_args__ = (
        UniqueConstraint("authority_id", "order_ref"),
        Index("ix_received_orders_state_deadline", "state", "deadline_at"),
        state_check("state", ReceivedState),
    )

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("authority_keys.id"))
    # The authority's id of the order (a UUID inside the signed document).
    order_ref: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(128))
    signed_at: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Art 14(1): 24 hours (TUTELA_REMOVAL_DEADLINE_HOURS) from receipt.
    deadline_at: Mapped[datetime] = mapped_column(UtcDateTime)
    overdue_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Art 15(4): the uploader hears nothing before this time.
    non_disclosure_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Art 16-18: a blocking or delisting order is in force until then (at most 5 years).
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # When the running clock started: receipt, or the authority's clarification of an
    # impediment (Art 14(5)-(6)); None means at receipt (orders received before it was kept).
    clock_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The authority's answers to impediments taken (tutela.orders.impediment_answers); the
    # execution report after the n-th is round n.
    answers: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ReceivedOrderItem(Base):
    """One item an order names, resolved to the upload it means, and its outcome (Annex VI)."""

    __tablename__ = "received_order_items"
    __table_args__ = (UniqueConstraint("order_id", "item_id"), state_check("state", ItemState))

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("received_orders.id"))
    # The item's reference inside the order, as the authority wrote it.
    ref: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    platform: Mapped[str] = mapped_column(String(64))
    item_ref: Mapped[str] = mapped_column(String(256))
    state: Mapped[str] = mapped_column(String(16))
    executed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    impediment: Mapped[str | None] = mapped_column(String(32), nullable=True)
    explanation: Mapped[str | None] = mapped_column(Text, nullable=True)
