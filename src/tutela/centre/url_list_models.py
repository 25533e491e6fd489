"""The Centre's list of URLs (Art 44(3)): pages with material, hosted outside the Union, that
could not be removed; authorities name its entries in blocking and delisting orders, and
providers follow it as a signed feed (`GET /v1/urls`). Entries are numbered in the order they
were added, and the number is the feed's cursor."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Identity, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tutela.db.base import Base
from tutela.db.types import BigId, UtcDateTime


class CentreUrl(Base):
    __tablename__ = "centre_urls"

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    # The host as DNS knows it (lower case, IDNA), what a blocking order can block.
    host: Mapped[str] = mapped_column(String(253))
    # Why it is on the list; stays at the Centre (the feed carries the URL, not the reasons).
    reason: Mapped[str] = mapped_column(Text)
    added_by: Mapped[str] = mapped_column(String(128))
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)
