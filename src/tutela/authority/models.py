"""Tables of the authority node: the providers it orders, and the orders it issued with the
signed execution reports that came back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Identity, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tutela.clock import utc_now
from tutela.db.base import Base
from tutela.db.checks import state_check
from tutela.db.types import BigId, UtcDateTime
from tutela.orders.states import IssuedState


class OrderedProvider(Base):
    """A provider the authority may order: its key (execution reports verify against it), the
    endpoint orders are posted to, its Member State and services."""

    __tablename__ = "authority_providers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    public_key_pem: Mapped[str] = mapped_column(Text)
    order_url: Mapped[str] = mapped_column(String(512))
    country: Mapped[str] = mapped_column(String(2))
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    legal_representative: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class IssuedOrder(Base):
    """One order as signed and sent, and the provider's signed execution report once it came."""

    __tablename__ = "issued_orders"
    __table_args__ = (state_check("state", IssuedState),)

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    order_ref: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[int] = mapped_column(ForeignKey("authority_providers.id"))
    state: Mapped[str] = mapped_column(String(16))
    issued_by: Mapped[str] = mapped_column(String(128))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    body: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(128))
    report_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    report_signature: Mapped[str | None] = mapped_column(String(128), nullable=True)
    report_received_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The outcome per item, as the verified report states it (Annex VI).
    outcomes: Mapped[list[dict[str, Any]] | None] = mapped_column(
        JSON(none_as_null=True), nullable=True
    )
