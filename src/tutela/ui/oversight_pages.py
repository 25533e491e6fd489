"""Pages for oversight: the complaint queue (senior reviewers, DSA Art 20) and the operator's
alerts (administrators: floods, failed messages, breached SLAs, overdue deadlines, each to
acknowledge; failed platform webhook deliveries, to send again). The audit log page is shared
with the centre's console (tutela.ui.audit_pages)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tutela.auth.roles import Role
from tutela.clock import utc_now
from tutela.operations.alerts import acknowledge_alert, list_alerts, raise_alerts
from tutela.operations.webhook_deliveries import Selection, failed_endpoints, requeue_as
from tutela.reporting.report_updates import follow_ups_from
from tutela.review.complaints import decide_complaint, list_complaints
from tutela.ui.access import SeniorDep, Viewer, page, require_roles, secure

router = APIRouter(prefix="/ui", include_in_schema=False)
AdministratorDep = Annotated[Viewer, Depends(require_roles(Role.ADMINISTRATOR))]
ALERT_ID_MAX = 2**31 - 1
WEBHOOK_ID_MAX = 2**31 - 1


@router.get("/complaints")
def complaints(viewer: SeniorDep) -> Response:
    rows = list_complaints(viewer.services.database)
    return page("complaints.html", viewer, complaints=rows)


@router.post("/complaints/{complaint_id}/decision")
async def complaint_decision(
    complaint_id: int,
    viewer: SeniorDep,
    outcome: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
) -> Response:
    await run_in_threadpool(
        lambda: decide_complaint(
            viewer.services.database,
            complaint_id,
            viewer.user.name,
            outcome == "uphold",
            note=note,
            follow_ups=follow_ups_from(viewer.services.settings),
        )
    )
    return secure(RedirectResponse("/ui/complaints", status_code=303))


@router.get("/alerts")
def alerts(viewer: AdministratorDep) -> Response:
    """Open alerts first, then the latest acknowledged or resolved; brought up to date first."""
    database = viewer.services.database
    raise_alerts(database, viewer.services.settings, utc_now())
    with database.reader() as session:
        shown = list_alerts(session)
        endpoints = failed_endpoints(session)
    shown.sort(key=lambda alert: not alert.open)
    return page("alerts.html", viewer, alerts=shown, failed_endpoints=endpoints)


@router.post("/alerts/{alert_id}/acknowledge")
async def alert_acknowledge(
    alert_id: Annotated[int, Path(ge=1, le=ALERT_ID_MAX)], viewer: AdministratorDep
) -> Response:
    await run_in_threadpool(
        acknowledge_alert, viewer.services.database, alert_id, viewer.user, utc_now()
    )
    return secure(RedirectResponse("/ui/alerts", status_code=303))


@router.post("/webhooks/{webhook_id}/requeue")
async def webhook_requeue(
    webhook_id: Annotated[int, Path(ge=1, le=WEBHOOK_ID_MAX)], viewer: AdministratorDep
) -> Response:
    """Send every failed delivery to one platform endpoint again (same Idempotency-Keys),
    audited under the signed-in administrator."""
    selection = Selection(all_failed=True, webhook_id=webhook_id)
    await run_in_threadpool(requeue_as, viewer.services.database, viewer.user, selection, utc_now())
    return secure(RedirectResponse("/ui/alerts", status_code=303))
