"""The EU Centre's triage console for analysts, mounted on the centre app with the provider
console's shared parts (sign-in, CSRF, `require_roles`, templates, style, keyboard script, the
audit log page for its auditors): the triage queue, a report's Art 13 fields (never content
bytes), and the assessments of Art 48 (manifestly unfounded, forward) and Art 44(3) (confirm as
indicator). Every view and every assessment is recorded in the audit log, in the transaction of
the act itself; assessments are the services of `tutela.centre.decisions`, as on the command
line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, FastAPI, Form
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tutela.audit.log import Action, Subject, record
from tutela.centre.decisions import (
    confirm_indicators,
    forward,
    report_subject,
    set_aside_as_unfounded,
)
from tutela.centre.triage_views import ReportView, report_view, triage_queue
from tutela.db.database import Database
from tutela.errors import InvalidInput
from tutela.settings import Settings
from tutela.ui import centre_figures_pages, centre_order_pages
from tutela.ui.access import AnalystDep, SeniorAnalystDep, Viewer, page, secure
from tutela.ui.console import install_pages

router = APIRouter(prefix="/ui", include_in_schema=False)
QUEUE = "/ui/triage"
UNFOUNDED, FORWARD = "unfounded", "forward"
# Decision → (key, label); the key chooses, Enter submits (console.js). The `?` overlay lists
# these keys (SHORTCUTS).
DECISIONS = {
    UNFOUNDED: ("x", "Manifestly unfounded (reasons go to the provider)"),
    FORWARD: ("f", "Forward to Europol and the competent LEA"),
}
CONFIRM_KEY = ("i", "Confirm as indicator (authority's confirmation required)")
SHORTCUTS = "centre_shortcuts.html"


@dataclass
class CentreConsoleServices:
    """The centre app's services as console pages need them (see `ConsoleServices`)."""

    settings: Settings
    database: Database


def install_centre_console(app: FastAPI, settings: Settings, database: Database) -> None:
    app.state.services = CentreConsoleServices(settings, database)
    install_pages(
        app, router, centre_figures_pages.router, centre_order_pages.router, shortcuts=SHORTCUTS
    )


@router.get("/triage")
def queue(viewer: AnalystDep, done: int | None = None) -> Response:
    with viewer.services.database.unit_of_work() as session:
        rows = triage_queue(session)
        record(session, viewer.actor, Action.VIEW, Subject("triage_queue", "-"), {})
    return page("centre_queue.html", viewer, entries=rows, done=done, queue_url=QUEUE)


@router.get("/triage/reports/{report_id}")
async def report_page(report_id: int, viewer: AnalystDep) -> Response:
    def view() -> ReportView:
        with viewer.services.database.unit_of_work() as session:
            shown = report_view(session, report_id)
            record(session, viewer.actor, Action.VIEW, report_subject(report_id), {})
            return shown

    shown = await run_in_threadpool(view)
    return page(
        "centre_report.html",
        viewer,
        report=shown,
        decisions=DECISIONS,
        confirm=CONFIRM_KEY,
        senior="senior_analyst" in viewer.user.roles,
        queue_url=QUEUE,
    )


@router.post("/triage/reports/{report_id}/decision")
async def decision(
    report_id: int,
    viewer: AnalystDep,
    decision: Annotated[str, Form()] = "",
    reasons: Annotated[str, Form()] = "",
) -> Response:
    """Art 48: set aside as manifestly unfounded (with the reasons the provider is told), or
    forward by the routing rules."""
    if decision not in DECISIONS:
        raise InvalidInput("choose unfounded or forward")

    database, name = viewer.services.database, viewer.user.name
    if decision == UNFOUNDED:
        await run_in_threadpool(set_aside_as_unfounded, database, name, report_id, reasons)
    else:
        await run_in_threadpool(forward, database, name, report_id)
    return _next(viewer, report_id)


@router.post("/triage/reports/{report_id}/indicator")
async def indicator(
    report_id: int,
    viewer: SeniorAnalystDep,
    authority_confirmation: Annotated[str, Form()] = "",
) -> Response:
    """Art 44(3): make indicators of the report's hashes, on a national authority's
    confirmation, by the named senior analyst."""

    await run_in_threadpool(
        confirm_indicators,
        viewer.services.database,
        viewer.user.name,
        report_id,
        authority_confirmation,
    )
    return secure(RedirectResponse(f"/ui/triage/reports/{report_id}", status_code=303))


def _next(viewer: Viewer, report_id: int) -> Response:
    """On to the next report awaiting triage, or back to the queue when none is left."""
    with viewer.services.database.reader() as session:
        waiting = triage_queue(session, limit=1)
    target = (
        f"/ui/triage/reports/{waiting[0].report_id}" if waiting else f"{QUEUE}?done={report_id}"
    )
    return secure(RedirectResponse(target, status_code=303))
