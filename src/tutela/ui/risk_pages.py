"""The compliance officer's pages of the risk register (Art 3-5): the services with their
versions and the re-assessments due, one assessment with its parts (the Art 3(2) factors, the
node's own figures, the level), its mitigation measures (Art 4), sign-off, and the signed Art 5
report to download. Times come from `app.state.clock` when the app has one (tests move it),
else the system clock."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tutela.auth.roles import Role
from tutela.clock import Clock, SystemClock
from tutela.errors import InvalidInput
from tutela.messaging.signing import default_key_file, load_key_file
from tutela.reporting.fields import ProviderIdentity
from tutela.risk.art5_report import check_exportable, export_report
from tutela.risk.factors import CHOICES, FUNCTIONS, LABELS
from tutela.risk.measures import MeasureInput, MeasureKind, MeasureStatus
from tutela.risk.policy import RiskPolicy
from tutela.risk.register import (
    add_measure,
    list_versions,
    read_assessment,
    record_change,
    save_part,
    set_summary,
    sign_off,
    start_assessment,
    update_measure,
)
from tutela.risk.reminders import next_due, reassessments_due
from tutela.ui.access import Viewer, page, require_roles, secure

router = APIRouter(prefix="/ui/risk", include_in_schema=False)
OfficerDep = Annotated[Viewer, Depends(require_roles(Role.COMPLIANCE_OFFICER))]
ID_MAX = 2**31 - 1
AssessmentId = Annotated[int, Path(ge=1, le=ID_MAX)]
MeasureId = Annotated[int, Path(ge=1, le=ID_MAX)]


async def get_clock(request: Request) -> Clock:
    clock: Clock | None = getattr(request.app.state, "clock", None)
    return clock or SystemClock()


ClockDep = Annotated[Clock, Depends(get_clock)]


@router.get("")
def register_page(viewer: OfficerDep, clock: ClockDep) -> Response:
    now = clock.now()
    with viewer.services.database.reader() as session:
        versions = list_versions(session)
        due = reassessments_due(session, now)
        upcoming = next_due(session)
    return page(
        "risk_register.html",
        viewer,
        versions=versions,
        due=due,
        upcoming=upcoming,
        now=now,
        services=viewer.services.settings.provider_services,
    )


@router.post("/assessments")
async def start(
    viewer: OfficerDep, clock: ClockDep, service: Annotated[str, Form()] = ""
) -> Response:
    assessment_id, _ = await run_in_threadpool(
        lambda: start_assessment(viewer.services.database, service, viewer.user.name, clock=clock)
    )
    return _to(assessment_id)


@router.get("/assessments/{assessment_id}")
def assessment_page(assessment_id: AssessmentId, viewer: OfficerDep, clock: ClockDep) -> Response:
    policy = RiskPolicy.of(viewer.services.settings)
    with viewer.services.database.reader() as session:
        view = read_assessment(session, assessment_id, policy, clock.now())
    return page(
        "risk_assessment.html",
        viewer,
        view=view,
        functions=FUNCTIONS,
        choices={name: [c.value for c in kind] for name, kind in CHOICES.items()},
        labels=LABELS,
        kinds=[k.value for k in MeasureKind],
        statuses=[s.value for s in MeasureStatus],
        services=viewer.services.settings.provider_services,
    )


@router.post("/assessments/{assessment_id}/parts")
async def part(
    assessment_id: AssessmentId, request: Request, viewer: OfficerDep, clock: ClockDep
) -> Response:
    form = await request.form()
    factors: dict[str, object] = {name: form.get(name) == "on" for name in FUNCTIONS}
    for name in CHOICES:
        factors[name] = str(form.get(name) or "")
    await run_in_threadpool(
        lambda: save_part(
            viewer.services.database,
            assessment_id,
            str(form.get("name") or ""),
            factors,
            viewer.user.name,
            notes=str(form.get("notes") or ""),
            clock=clock,
        )
    )
    return _to(assessment_id)


@router.post("/assessments/{assessment_id}/summary")
async def summary(
    assessment_id: AssessmentId,
    viewer: OfficerDep,
    clock: ClockDep,
    text: Annotated[str, Form()] = "",
) -> Response:
    await run_in_threadpool(
        lambda: set_summary(
            viewer.services.database, assessment_id, text, viewer.user.name, clock=clock
        )
    )
    return _to(assessment_id)


@router.post("/assessments/{assessment_id}/measures")
async def measure(
    assessment_id: AssessmentId,
    viewer: OfficerDep,
    clock: ClockDep,
    kind: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    owner: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = MeasureStatus.PLANNED.value,
    part: Annotated[str, Form()] = "",
    start_on: Annotated[str, Form()] = "",
    due_on: Annotated[str, Form()] = "",
    done_on: Annotated[str, Form()] = "",
    evidence: Annotated[str, Form()] = "",
) -> Response:
    entered = MeasureInput(
        kind,
        description,
        owner,
        status,
        part,
        _day(start_on, "start"),
        _day(due_on, "due"),
        _day(done_on, "done"),
        evidence,
    )
    await run_in_threadpool(
        lambda: add_measure(
            viewer.services.database, assessment_id, entered, viewer.user.name, clock=clock
        )
    )
    return _to(assessment_id)


@router.post("/assessments/{assessment_id}/measures/{measure_id}")
async def measure_update(
    assessment_id: AssessmentId,
    measure_id: MeasureId,
    viewer: OfficerDep,
    clock: ClockDep,
    status: Annotated[str, Form()] = "",
    evidence: Annotated[str, Form()] = "",
    done_on: Annotated[str, Form()] = "",
) -> Response:
    done = _day(done_on, "done")
    await run_in_threadpool(
        lambda: update_measure(
            viewer.services.database,
            assessment_id,
            measure_id,
            viewer.user.name,
            status=status,
            evidence=evidence,
            done_on=done,
            clock=clock,
        )
    )
    return _to(assessment_id)


@router.post("/assessments/{assessment_id}/sign-off")
async def sign(assessment_id: AssessmentId, viewer: OfficerDep, clock: ClockDep) -> Response:
    policy = RiskPolicy.of(viewer.services.settings)
    await run_in_threadpool(
        lambda: sign_off(
            viewer.services.database, assessment_id, viewer.user.name, policy, clock=clock
        )
    )
    return _to(assessment_id)


@router.post("/export")
async def export(
    viewer: OfficerDep, clock: ClockDep, service: Annotated[str, Form()] = ""
) -> Response:
    """The signed Art 5 report of the service's newest signed-off version, as a download."""
    settings = viewer.services.settings

    def signed() -> tuple[str, bytes]:
        check_exportable(viewer.services.database, service or None)
        key = load_key_file(default_key_file(settings))
        exported = export_report(
            viewer.services.database,
            viewer.user.name,
            key,
            ProviderIdentity.from_settings(settings),
            RiskPolicy.of(settings),
            service=service or None,
            clock=clock,
        )
        return exported.file_name, exported.file_bytes

    name, body = await run_in_threadpool(signed)
    return secure(
        Response(
            body,
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    )


@router.post("/changes")
async def change(
    viewer: OfficerDep,
    clock: ClockDep,
    service: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    await run_in_threadpool(
        lambda: record_change(
            viewer.services.database, service, description, viewer.user.name, clock=clock
        )
    )
    return secure(RedirectResponse("/ui/risk", status_code=303))


def _to(assessment_id: int) -> Response:
    return secure(RedirectResponse(f"/ui/risk/assessments/{assessment_id}", status_code=303))


def _day(value: str, what: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"the {what} date must be YYYY-MM-DD") from None
