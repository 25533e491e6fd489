"""Mitigation measures (Art 4): their kinds, states and the checks on what an officer enters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from tutela.detection.item_metadata import check_name, check_text
from tutela.errors import InvalidInput

TEXT_MAX = 5000
NAME_MAX = 128


class MeasureKind(StrEnum):
    """The kinds of measure Art 4(1) lists."""

    MODERATION = "moderation"  # (a) content moderation, its processes and staff
    DESIGN = "design"  # (a) design, functions and operation of the service
    TERMS = "terms"  # (a) terms and conditions and their enforcement
    DETECTION = "detection"  # (a) voluntary detection, hash matching
    AGE_ASSURANCE = "age_assurance"  # (b)-(c) age verification and assessment (Art 4(3))
    REPORTING_TOOLS = "reporting_tools"  # (d) tools for users to report and flag
    COOPERATION = "cooperation"  # (b) cooperation with other providers, trusted flaggers
    OTHER = "other"


class MeasureStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DROPPED = "dropped"


@dataclass(frozen=True, slots=True)
class MeasureInput:
    """A measure as entered: checked by `checked()` before anything is stored."""

    kind: str
    description: str
    owner: str
    status: str = MeasureStatus.PLANNED.value
    part: str = ""
    start_on: date | None = None
    due_on: date | None = None
    done_on: date | None = None
    evidence: str = ""

    def checked(self) -> MeasureInput:
        try:
            kind = MeasureKind(self.kind)
        except ValueError:
            allowed = ", ".join(k.value for k in MeasureKind)
            raise InvalidInput(f"kind must be one of {allowed}") from None
        status = checked_status(self.status)
        description = _text(self.description, "description", required=True)
        owner = self.owner.strip()
        if not owner or len(owner) > NAME_MAX:
            raise InvalidInput(f"owner must be 1-{NAME_MAX} characters")
        check_name(owner, "owner")
        part = check_name(self.part.strip(), "part")
        if len(part) > NAME_MAX:
            raise InvalidInput(f"part must be at most {NAME_MAX} characters")
        if self.start_on and self.due_on and self.due_on < self.start_on:
            raise InvalidInput("a measure cannot be due before it starts")
        if status is MeasureStatus.DONE and self.done_on is None:
            raise InvalidInput("a measure that is done needs the date it was done")
        return MeasureInput(
            kind.value,
            description,
            owner,
            status.value,
            part,
            self.start_on,
            self.due_on,
            self.done_on,
            _text(self.evidence, "evidence", required=False),
        )


@dataclass(frozen=True, slots=True)
class MeasureView:
    id: int
    part: str
    kind: str
    description: str
    owner: str
    status: str
    start_on: date | None
    due_on: date | None
    done_on: date | None
    evidence: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "part": self.part or None,
            "kind": self.kind,
            "description": self.description,
            "owner": self.owner,
            "status": self.status,
            "start_on": _iso(self.start_on),
            "due_on": _iso(self.due_on),
            "done_on": _iso(self.done_on),
            "evidence": self.evidence,
        }


def checked_status(value: str) -> MeasureStatus:
    try:
        return MeasureStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in MeasureStatus)
        raise InvalidInput(f"status must be one of {allowed}") from None


def checked_evidence(value: str) -> str:
    return _text(value, "evidence", required=False)


def _text(value: str, field: str, *, required: bool) -> str:
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"{field} must not be empty")
    if len(value) > TEXT_MAX:
        raise InvalidInput(f"{field} must be at most {TEXT_MAX} characters")
    return check_text(value, field)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
