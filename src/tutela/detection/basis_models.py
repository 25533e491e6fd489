"""The table of detection bases: what allows known-material detection on a service (Art 7-11).
A row is either a part of a received detection order (one per service part and kind it names,
in force from its start to its end) or a voluntary basis an administrator set and may clear.
Rows are never deleted: a cleared or ended basis stays, so that every match keeps the basis it
ran under (`items.detection_basis_id`, `item_matches.basis_id`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tutela.db.base import Base
from tutela.db.types import BigId, UtcDateTime

# A basis naming this service covers every service of the node, items naming none included.
EVERY_SERVICE = "*"


class DetectionBasis(Base):
    """One service part and kind of detection, under an order or a voluntary basis."""

    __tablename__ = "detection_bases"
    __table_args__ = (Index("ix_detection_bases_service_kind", "service", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # order | voluntary
    source: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("received_orders.id"), nullable=True
    )
    # The authority's id of the order, and the authority, as the signed order names them.
    order_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    authority: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # A name items give in `metadata.service` (TUTELA_PROVIDER_SERVICES), or EVERY_SERVICE.
    service: Mapped[str] = mapped_column(String(128))
    # known | new | solicitation (Art 7(1)); only `known` runs here (hash matching).
    kind: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # None: until cleared (a voluntary basis).
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # An account (`user:ID`), `authority:NAME`, or `installation` for the default basis.
    set_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    cleared_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
