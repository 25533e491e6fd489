"""The centre's copies of orders (Art 14(2) in the Council text: every order is copied to the
EU Centre), each verified against the issuing authority's registered key, and of the authority's
answers to the impediments providers filed against them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Identity, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tutela.db.base import Base
from tutela.db.types import BigId, UtcDateTime


class CentreOrderCopy(Base):
    __tablename__ = "centre_order_copies"
    __table_args__ = (UniqueConstraint("authority_id", "order_ref"),)

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("authority_keys.id"))
    order_ref: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(256))
    body: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CentreOrderAnswer(Base):
    """The copy of an authority's answer to an impediment (a clarification, or the order
    withdrawn), kept by the order's id: it may come before the order's own copy."""

    __tablename__ = "centre_order_answers"
    __table_args__ = (UniqueConstraint("authority_id", "answer_ref"),)

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("authority_keys.id"))
    order_ref: Mapped[str] = mapped_column(String(64), index=True)
    answer_ref: Mapped[str] = mapped_column(String(128))
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
