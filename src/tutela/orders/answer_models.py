"""The provider's record of the authority's answers to its impediments (Art 14(5)-(6)): each
signed answer exactly as received, once per order and answer (tutela.orders.impediment_answers)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Identity, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tutela.db.base import Base
from tutela.db.types import BigId, UtcDateTime


class ReceivedOrderAnswer(Base):
    """One answer of the issuing authority to an impediment: a clarification (the order's clock
    starts again from its receipt) or the order's withdrawal."""

    __tablename__ = "received_order_answers"
    __table_args__ = (UniqueConstraint("order_id", "answer_ref"),)

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("received_orders.id"))
    # The signed message's idempotency key: `answer:<order id>:<number>`.
    answer_ref: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    clarification: Mapped[str | None] = mapped_column(Text, nullable=True)
    body: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
