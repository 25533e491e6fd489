"""The register's services: start a version of a service's assessment, fill in its parts and
measures, sign it off, record significant changes; and read it back. Each write is one unit of
work that checks the officer's permission and leaves one audit entry. A signed-off version is
never changed again: a new version starts from it, with its parts and measures copied."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tutela.audit.log import Subject, record, user_actor
from tutela.auth.actors import Account, acting_account
from tutela.auth.roles import Permission
from tutela.clock import Clock
from tutela.db.database import Database
from tutela.detection.item_metadata import check_name, check_text
from tutela.enforcement.notices import add_months
from tutela.errors import Conflict, InvalidInput, NotFound
from tutela.risk.evaluation import Evaluation, evaluate, evaluation_from
from tutela.risk.factors import parse_factors
from tutela.risk.measures import (
    MeasureInput,
    MeasureStatus,
    MeasureView,
    checked_evidence,
    checked_status,
)
from tutela.risk.models import (
    NAME_MAX,
    AssessmentState,
    RiskAssessment,
    RiskChange,
    RiskMeasure,
    RiskPart,
)
from tutela.risk.policy import RiskPolicy

TEXT_MAX = 5000


@dataclass(frozen=True, slots=True)
class AssessmentView:
    id: int
    service: str
    version: int
    state: str
    based_on_version: int | None
    summary: str
    created_at: datetime
    created_by: str
    signed_off_at: datetime | None
    signed_off_by: str | None
    reassess_by: datetime | None
    evaluation: Evaluation
    measures: tuple[MeasureView, ...]

    @property
    def signed_off(self) -> bool:
        return self.state == AssessmentState.SIGNED_OFF


@dataclass(frozen=True, slots=True)
class VersionRow:
    id: int
    service: str
    version: int
    state: str
    created_at: datetime
    signed_off_at: datetime | None
    reassess_by: datetime | None


def start_assessment(
    database: Database, service: str, officer: str, *, clock: Clock
) -> tuple[int, bool]:
    """The open draft of `service`'s assessment, or a new one (True): version 1, or the next
    version with the parts and measures of the latest signed-off one."""
    service = _name(service, "service")
    now = clock.now()
    with database.unit_of_work() as session:
        user = acting_officer(session, officer)
        draft = session.scalar(
            select(RiskAssessment).where(
                RiskAssessment.service == service, RiskAssessment.state == AssessmentState.DRAFT
            )
        )
        if draft is not None:
            return draft.id, False
        last = session.scalar(
            select(func.max(RiskAssessment.version)).where(RiskAssessment.service == service)
        )
        base = session.scalar(
            select(RiskAssessment)
            .where(
                RiskAssessment.service == service,
                RiskAssessment.state == AssessmentState.SIGNED_OFF,
            )
            .order_by(RiskAssessment.version.desc())
            .limit(1)
        )
        row = RiskAssessment(
            service=service,
            version=(last or 0) + 1,
            state=AssessmentState.DRAFT,
            based_on_id=base.id if base else None,
            summary=base.summary if base else "",
            created_at=now,
            created_by=user.name,
        )
        session.add(row)
        session.flush()
        if base is not None:
            _copy_contents(session, base.id, row.id)
        record(
            session,
            user_actor(user.id),
            "risk_assessment_start",
            Subject("risk_assessment", str(row.id)),
            {"service": service, "version": row.version, "based_on": row.based_on_id},
            now=now,
        )
        return row.id, True


def save_part(
    database: Database,
    assessment_id: int,
    name: str,
    factors: Mapping[str, Any],
    officer: str,
    *,
    notes: str = "",
    clock: Clock,
) -> None:
    """Add the part `name` to a draft, or replace its factors and notes."""
    name = _name(name, "part")
    parsed = parse_factors(factors)
    notes = _text(notes, "notes")
    now = clock.now()
    with database.unit_of_work() as session:
        user = acting_officer(session, officer)
        row = _draft(session, assessment_id)
        part = session.scalar(
            select(RiskPart).where(RiskPart.assessment_id == row.id, RiskPart.name == name)
        )
        if part is None:
            part = RiskPart(assessment_id=row.id, name=name, factors={}, notes="")
            session.add(part)
        part.factors, part.notes = parsed.as_dict(), notes
        session.flush()
        record(
            session,
            user_actor(user.id),
            "risk_part_save",
            Subject("risk_assessment", str(row.id)),
            {"part": name, "factors": parsed.as_dict()},
            now=now,
        )


def set_summary(
    database: Database, assessment_id: int, summary: str, officer: str, *, clock: Clock
) -> None:
    """The officer's overall conclusions of a draft (Art 3(1))."""
    summary = _text(summary, "summary")
    now = clock.now()
    with database.unit_of_work() as session:
        user = acting_officer(session, officer)
        row = _draft(session, assessment_id)
        row.summary = summary
        record(
            session,
            user_actor(user.id),
            "risk_summary_save",
            Subject("risk_assessment", str(row.id)),
            now=now,
        )


def add_measure(
    database: Database, assessment_id: int, measure: MeasureInput, officer: str, *, clock: Clock
) -> int:
    checked = measure.checked()
    now = clock.now()
    with database.unit_of_work() as session:
        user = acting_officer(session, officer)
        row = _draft(session, assessment_id)
        if checked.part and not _has_part(session, row.id, checked.part):
            raise InvalidInput(f"the assessment has no part {checked.part!r}")
        added = RiskMeasure(
            assessment_id=row.id,
            part=checked.part,
            kind=checked.kind,
            description=checked.description,
            owner=checked.owner,
            status=checked.status,
            start_on=checked.start_on,
            due_on=checked.due_on,
            done_on=checked.done_on,
            evidence=checked.evidence,
        )
        session.add(added)
        session.flush()
        record(
            session,
            user_actor(user.id),
            "risk_measure_add",
            Subject("risk_assessment", str(row.id)),
            {"measure": added.id, "kind": added.kind, "status": added.status},
            now=now,
        )
        return added.id


def update_measure(
    database: Database,
    assessment_id: int,
    measure_id: int,
    officer: str,
    *,
    status: str,
    evidence: str,
    done_on: date | None,
    clock: Clock,
) -> None:
    """Where a measure of a draft stands now, with the evidence of it."""
    new_status = checked_status(status)
    evidence = checked_evidence(evidence)
    if new_status is MeasureStatus.DONE and done_on is None:
        raise InvalidInput("a measure that is done needs the date it was done")
    now = clock.now()
    with database.unit_of_work() as session:
        user = acting_officer(session, officer)
        row = _draft(session, assessment_id)
        measure = session.get(RiskMeasure, measure_id)
        if measure is None or measure.assessment_id != row.id:
            raise NotFound(f"assessment {assessment_id} has no measure {measure_id}")
        measure.status, measure.evidence, measure.done_on = new_status.value, evidence, done_on
        record(
            session,
            user_actor(user.id),
            "risk_measure_update",
            Subject("risk_assessment", str(row.id)),
            {"measure": measure.id, "status": measure.status},
            now=now,
        )


def sign_off(
    database: Database, assessment_id: int, officer: str, policy: RiskPolicy, *, clock: Clock
) -> AssessmentView:
    """Freeze the draft as signed: its figures, scores and method, and the date the next
    assessment is due (Art 3(4)). From now on it is read-only."""
    now = clock.now()
    with database.unit_of_work() as session:
        user = acting_officer(session, officer)
        row = _draft(session, assessment_id)
        evaluation = evaluate(session, row.id, policy, now)
        if not evaluation.parts:
            raise InvalidInput("an assessment needs at least one service part to be signed off")
        row.snapshot = evaluation.as_dict()
        row.state = AssessmentState.SIGNED_OFF
        row.signed_off_at, row.signed_off_by = now, user.name
        row.reassess_by = add_months(now, policy.reassess_months)
        session.flush()
        record(
            session,
            user_actor(user.id),
            "risk_sign_off",
            Subject("risk_assessment", str(row.id)),
            {
                "service": row.service,
                "version": row.version,
                "levels": {p.name: p.score.level.value for p in evaluation.parts},
                "reassess_by": row.reassess_by.isoformat(),
            },
            now=now,
        )
        return _view(session, row, policy, now)


def record_change(
    database: Database, service: str, description: str, officer: str, *, clock: Clock
) -> int:
    """A significant change to `service` (a new function, a new audience): its next
    assessment is due at once (Art 3(4))."""
    service = _name(service, "service")
    description = _text(description, "description")
    if not description:
        raise InvalidInput("describe the change")
    now = clock.now()
    with database.unit_of_work() as session:
        user = acting_officer(session, officer)
        row = RiskChange(
            service=service, description=description, recorded_at=now, recorded_by=user.name
        )
        session.add(row)
        session.flush()
        record(
            session,
            user_actor(user.id),
            "risk_change_record",
            Subject("risk_change", str(row.id)),
            {"service": service},
            now=now,
        )
        return row.id


def read_assessment(
    session: Session, assessment_id: int, policy: RiskPolicy, now: datetime
) -> AssessmentView:
    row = session.get(RiskAssessment, assessment_id)
    if row is None:
        raise NotFound(f"no risk assessment {assessment_id}")
    return _view(session, row, policy, now)


def list_versions(session: Session) -> list[VersionRow]:
    rows = session.scalars(
        select(RiskAssessment).order_by(RiskAssessment.service, RiskAssessment.version.desc())
    )
    return [
        VersionRow(
            r.id, r.service, r.version, r.state, r.created_at, r.signed_off_at, r.reassess_by
        )
        for r in rows
    ]


def latest_signed_off(session: Session, service: str | None) -> RiskAssessment:
    """The newest signed-off version of `service` (of the only service assessed, when None)."""
    query = select(RiskAssessment).where(RiskAssessment.state == AssessmentState.SIGNED_OFF)
    if service is None:
        services = set(
            session.scalars(
                select(RiskAssessment.service).where(
                    RiskAssessment.state == AssessmentState.SIGNED_OFF
                )
            )
        )
        if len(services) > 1:
            raise InvalidInput(f"name the service: {', '.join(sorted(services))}")
    else:
        query = query.where(RiskAssessment.service == service)
    row = session.scalar(query.order_by(RiskAssessment.version.desc()).limit(1))
    if row is None:
        raise NotFound("no signed-off risk assessment" + (f" of {service!r}" if service else ""))
    return row


def measures_of(session: Session, assessment_id: int) -> tuple[MeasureView, ...]:
    rows = session.scalars(
        select(RiskMeasure)
        .where(RiskMeasure.assessment_id == assessment_id)
        .order_by(RiskMeasure.id)
    )
    return tuple(
        MeasureView(
            m.id,
            m.part,
            m.kind,
            m.description,
            m.owner,
            m.status,
            m.start_on,
            m.due_on,
            m.done_on,
            m.evidence,
        )
        for m in rows
    )


def _view(
    session: Session, row: RiskAssessment, policy: RiskPolicy, now: datetime
) -> AssessmentView:
    evaluation = (
        evaluation_from(row.snapshot)
        if row.state == AssessmentState.SIGNED_OFF and row.snapshot is not None
        else evaluate(session, row.id, policy, now)
    )
    base = session.get(RiskAssessment, row.based_on_id) if row.based_on_id else None
    return AssessmentView(
        row.id,
        row.service,
        row.version,
        row.state,
        base.version if base else None,
        row.summary,
        row.created_at,
        row.created_by,
        row.signed_off_at,
        row.signed_off_by,
        row.reassess_by,
        evaluation,
        measures_of(session, row.id),
    )


def acting_officer(session: Session, name: str) -> Account:
    """The compliance officer's active account (tutela.auth.actors: the one check for all)."""
    return acting_account(session, name, Permission.ASSESS_RISK)


def _draft(session: Session, assessment_id: int) -> RiskAssessment:
    row = session.get(RiskAssessment, assessment_id, with_for_update=True)
    if row is None:
        raise NotFound(f"no risk assessment {assessment_id}")
    if row.state != AssessmentState.DRAFT:
        raise Conflict(
            f"version {row.version} of {row.service!r} is signed off and cannot change; "
            "start a new version"
        )
    return row


def _has_part(session: Session, assessment_id: int, name: str) -> bool:
    found = session.scalar(
        select(RiskPart.id).where(RiskPart.assessment_id == assessment_id, RiskPart.name == name)
    )
    return found is not None


def _copy_contents(session: Session, source_id: int, target_id: int) -> None:
    for part in session.scalars(select(RiskPart).where(RiskPart.assessment_id == source_id)):
        session.add(
            RiskPart(
                assessment_id=target_id,
                name=part.name,
                factors=dict(part.factors),
                notes=part.notes,
            )
        )
    for m in session.scalars(select(RiskMeasure).where(RiskMeasure.assessment_id == source_id)):
        session.add(
            RiskMeasure(
                assessment_id=target_id,
                part=m.part,
                kind=m.kind,
                description=m.description,
                owner=m.owner,
                status=m.status,
                start_on=m.start_on,
                due_on=m.due_on,
                done_on=m.done_on,
                evidence=m.evidence,
            )
        )


def _name(value: str, field: str) -> str:
    value = value.strip()
    if not value or len(value) > NAME_MAX:
        raise InvalidInput(f"{field} must be 1-{NAME_MAX} characters")
    return check_name(value, field)


def _text(value: str, field: str) -> str:
    value = value.strip()
    if len(value) > TEXT_MAX:
        raise InvalidInput(f"{field} must be at most {TEXT_MAX} characters")
    return check_text(value, field)
