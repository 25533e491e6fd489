"""Tables of blocking and delisting orders on the provider's side: its copy of the Centre's URL
list (followed as a signed feed) and the URLs each received order names. The orders themselves
are rows of `received_orders` (kind `blocking` or `delisting`, with their `ends_at`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Identity, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tutela.db.base import Base
from tutela.db.types import BigId, UtcDateTime


class ListedUrl(Base):
    """One entry of the Centre's URL list as this node received it in a signed feed page."""

    __tablename__ = "listed_urls"

    # The Centre's number of the entry: orders name entries by it.
    centre_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    url: Mapped[str] = mapped_column(String(2048))
    host: Mapped[str] = mapped_column(String(253))
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)
    fetched_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ReceivedOrderUrl(Base):
    """One URL a received blocking or delisting order names."""

    __tablename__ = "received_order_urls"
    __table_args__ = (UniqueConstraint("order_id", "centre_id"),)

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("received_orders.id"))
    centre_id: Mapped[int] = mapped_column(BigInteger)
    url: Mapped[str] = mapped_column(String(2048))
    host: Mapped[str] = mapped_column(String(253))
