"""Tables of the risk register: assessments (one row per version of a service's assessment),
their service parts with the Art 3(2) factors, the Art 4 mitigation measures, and the
significant changes an officer records between assessments (Art 3(4))."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tutela.db.base import Base
from tutela.db.checks import state_check
from tutela.db.types import UtcDateTime
from tutela.risk.measures import MeasureStatus

NAME_MAX = 128


class AssessmentState(StrEnum):
    """A version of an assessment: a draft until signed off, immutable after."""

    DRAFT = "draft"
    SIGNED_OFF = "signed_off"


class RiskAssessment(Base):
    """One version of a service's assessment: a draft until signed off, immutable after."""

    __tablename__ = "risk_assessments"
    __table_args__ = (UniqueConstraint("service", "version"), state_check("state", AssessmentState))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service: Mapped[str] = mapped_column(String(NAME_MAX))
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    # The signed-off version this one started from.
    based_on_id: Mapped[int | None] = mapped_column(
        ForeignKey("risk_assessments.id"), nullable=True
    )
    summary: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    signed_off_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    signed_off_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Art 3(4): when the next assessment is due, fixed at sign-off.
    reassess_by: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # At sign-off: the parts with their figures, scores and the method, frozen as signed.
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)


class RiskPart(Base):
    """A part of the service (as items name it in `metadata.service`) and its factors."""

    __tablename__ = "risk_parts"
    __table_args__ = (UniqueConstraint("assessment_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("risk_assessments.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    # tutela.risk.factors.PartFactors as JSON, checked by parse_factors before it is stored.
    factors: Mapped[dict[str, Any]] = mapped_column(JSON)
    notes: Mapped[str] = mapped_column(Text, default="")


class RiskMeasure(Base):
    """A mitigation measure (Art 4): what, for which part, who owns it, where it stands."""

    __tablename__ = "risk_measures"
    __table_args__ = (state_check("status", MeasureStatus),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("risk_assessments.id", ondelete="CASCADE"), index=True
    )
    # A part's name, or "" for the whole service.
    part: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(NAME_MAX))
    status: Mapped[str] = mapped_column(String(16))
    start_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    due_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    done_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    evidence: Mapped[str] = mapped_column(Text, default="")


class RiskChange(Base):
    """A significant change to a service, recorded by an officer: a new assessment is due."""

    __tablename__ = "risk_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service: Mapped[str] = mapped_column(String(NAME_MAX), index=True)
    description: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recorded_by: Mapped[str] = mapped_column(String(64))
