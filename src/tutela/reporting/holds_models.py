"""Table of the holds authorities put on a reported item (Art 48(6)-(7)), as the centre told us.

A hold is on one internal item (`items.id`, of one platform), found through the report it answers
(report → case → item): two platforms on one node whose items share an id text are held apart.
Rows stored before migration 0022 that it could not resolve keep `item_id` NULL and hold every
item whose platform id is their `item_ref`, on any platform, as they did before (see holds.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Identity, String
from sqlalchemy.orm import Mapped, mapped_column

from tutela.auth.platforms import PLATFORM_MAX
from tutela.clock import utc_now
from tutela.db.base import Base
from tutela.db.types import BigId, UtcDateTime


class Hold(Base):
    """Do not tell the user, and/or do not remove, until `until` (at most 18 months)."""

    __tablename__ = "reporting_holds"

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    # The centre's message key: a redelivered hold is recognised and stored once.
    message_key: Mapped[str] = mapped_column(String(128), unique=True)
    # The idempotency key of our report.
    report_key: Mapped[str] = mapped_column(String(128))
    # The held item (items.id) and its platform; NULL only on rows migration 0022 could not
    # resolve (they match by `item_ref`, see holds.py).
    item_id: Mapped[int | None] = mapped_column(BigId, nullable=True, index=True)
    platform: Mapped[str | None] = mapped_column(String(PLATFORM_MAX), nullable=True)
    # The platform's own id of the item: shown to people, and the key of unresolved old rows.
    item_ref: Mapped[str] = mapped_column(String(256), index=True)
    authority: Mapped[str] = mapped_column(String(64))
    no_user_notice: Mapped[bool] = mapped_column(Boolean)
    no_removal: Mapped[bool] = mapped_column(Boolean)
    until: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
