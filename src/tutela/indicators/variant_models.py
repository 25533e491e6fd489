"""The table of indicator variants: further PDQs stored with a PDQ indicator (the standard crops
of the image it was made from: tutela.signals.crops), so that crops of that image match it. The
Matcher indexes them under the indicator's id; a match names the variant that matched."""

from __future__ import annotations

from sqlalchemy import JSON, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from tutela.db.base import Base
from tutela.db.types import BigId


class IndicatorVariants(Base):
    __tablename__ = "indicator_variants"

    indicator_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("indicators.id", ondelete="CASCADE"), primary_key=True
    )
    # [[name, pdq hex], …] (tutela.indicators.variants.check_variants)
    variants: Mapped[list[list[str]]] = mapped_column(JSON)
