"""`POST /v1/report-updates` on the centre node: a provider's signed follow-up to a report it
sent (removal confirmed later, another organisation's case number, a retraction); the rules are
in `tutela.centre.updates`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tutela.api.centre_deps import CentreDep, ReportUpdateRequest
from tutela.centre.updates import receive_report_update

PATH = "/v1/report-updates"
router = APIRouter(tags=["reports"])


@router.post(PATH, status_code=201)
async def post_report_update(centre: CentreDep, signed: ReportUpdateRequest) -> JSONResponse:
    """Receive one signed follow-up to a report (201); a repeat answers 200 and changes
    nothing. Signed like a report; the body is a `tutela.message/1` of kind
    `report_update` (`removal`, `reported_elsewhere`) or `report_retraction` (`reason`)."""
    accepted = await run_in_threadpool(
        receive_report_update,
        centre.database,
        signed.key_id,
        signed.body,
        signed.signature,
        signed.received_at,
        centre.keys,
        centre.window,
    )
    return JSONResponse(
        {"id": accepted.id, "report_id": accepted.report_id, "kind": accepted.kind},
        status_code=201 if accepted.created else 200,
    )
