"""Tables of the authority node for the rounds of a removal order after an impediment: its
answers to the provider's impediments (a clarification, or the order withdrawn; Art 14(5)-(6)),
and every signed execution report the provider sent, one per round."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Identity, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tutela.db.base import Base
from tutela.db.types import BigId, UtcDateTime


class ImpedimentAnswer(Base):
    """One signed answer to the impediments an execution report named."""

    __tablename__ = "impediment_answers"
    __table_args__ = (UniqueConstraint("order_id", "number"),)

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("issued_orders.id"))
    # 1 for the first answer to the order; the provider's next report is round `number`.
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    clarification: Mapped[str | None] = mapped_column(Text, nullable=True)
    answered_by: Mapped[str] = mapped_column(String(128))
    answered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    body: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(128))


class IssuedOrderReport(Base):
    """One signed execution report as received and verified; round 0 answers the order, round n
    the order after the authority's n-th answer. The order row keeps the newest."""

    __tablename__ = "issued_order_reports"
    __table_args__ = (UniqueConstraint("order_id", "round"),)

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("issued_orders.id"))
    round: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class IssuedOrderImpediment(Base):
    """One impediment the provider filed for an item of the order (Annex V), as the signed
    message it sent when it was filed: shown at once, before the execution report names it."""

    __tablename__ = "issued_order_impediments"
    __table_args__ = (UniqueConstraint("order_id", "notice_ref"),)

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("issued_orders.id"))
    # The message's idempotency key: `impediment:<order id>:<round>:<item ref>`.
    notice_ref: Mapped[str] = mapped_column(String(160))
    # The round it was filed in: 0 before any answer, n after the authority's n-th answer.
    round: Mapped[int] = mapped_column(Integer)
    item_ref: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32))
    explanation: Mapped[str] = mapped_column(Text)
    filed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    body: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
