"""The table of video indicators' frames: a `vpdq` indicator's row in `indicators` carries a key
(the SHA-256 of its frames in python-threatexchange's form, so the same video is banked once
whatever form it came in); its frames are here, in Meta's line form, frame numbers kept."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from tutela.db.base import Base
from tutela.db.types import BigId


class VideoIndicator(Base):
    __tablename__ = "video_indicators"

    indicator_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("indicators.id", ondelete="CASCADE"), primary_key=True
    )
    frame_count: Mapped[int] = mapped_column(Integer)
    # "frame_number,quality,pdq_hex,seconds" per line (tutela.signals.vpdq.to_reference_lines).
    frames: Mapped[str] = mapped_column(Text)
