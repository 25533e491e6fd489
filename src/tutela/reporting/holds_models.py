"""Table of the holds authorities put on a reported item (Art 48(6)-(7)), as the centre told us."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Identity, String
from sqlalchemy.orm import Mapped, mapped_column

from tutela.db.base import Base
from tutela.db.types import BigId, UtcDateTime, utc_now


class Hold(Base):
    """Do not tell the user, and/or do not remove, until `until` (at most 18 months)."""

    __tablename__ = "reporting_holds"

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    # The centre's message key: a redelivered hold is recognised and stored once.
    message_key: Mapped[str] = mapped_column(String(128), unique=True)
    # The idempotency key of our report, and the item it is about (the platform's item id).
    report_key: Mapped[str] = mapped_column(String(128))
    item_ref: Mapped[str] = mapped_column(String(256), index=True)
    authority: Mapped[str] = mapped_column(String(64))
    no_user_notice: Mapped[bool] = mapped_column(Boolean)
    no_removal: Mapped[bool] = mapped_column(Boolean)
    until: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
