"""The centre's report intake (`POST /v1/reports`) and the provider's status poll of one of its
reports (`GET /v1/reports/{report_id}/status`); the rules are in `tutela.centre.intake` and
`tutela.centre.status`."""

from __future__ import annotations

from functools import partial

import anyio.to_thread
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tutela.api.centre_deps import CentreDep, ReportRequest, StatusPoll
from tutela.api.signed_requests import stored
from tutela.centre.intake import receive_report
from tutela.centre.status import report_status

router = APIRouter(tags=["reports"])


@router.post("/v1/reports", status_code=201)
async def post_report(centre: CentreDep, signed: ReportRequest) -> JSONResponse:
    """Receive one signed report (201). A repeat — the same Idempotency-Key, or the same
    signed report under another key — stores nothing and is answered as the first time
    (201, the same body), marked `Idempotent-Replayed: true`."""
    assert signed.idempotency_key is not None  # the dependency requires it
    receive = partial(
        receive_report,
        centre.database,
        signed.key_id,
        signed.body,
        signed.signature,
        signed.idempotency_key,
        signed.received_at,
        centre.linker,
        centre.keys,
        centre.window,
    )
    accepted = await anyio.to_thread.run_sync(receive, limiter=centre.intake_threads)
    answer = {"id": accepted.id, "status": accepted.status, "incident_id": accepted.incident_id}
    return stored(answer, accepted.created)


@router.get("/v1/reports/{report_id}/status")
async def get_status(report_id: int, centre: CentreDep, signed: StatusPoll) -> dict[str, object]:
    """Where one of the caller's reports stands; signed like a report, over
    `GET <path> <timestamp>`."""
    assert signed.timestamp is not None  # the dependency requires it
    return await run_in_threadpool(
        report_status,
        centre.database,
        signed.key_id,
        signed.signature,
        signed.timestamp,
        signed.path,
        report_id,
        signed.received_at,
        centre.window.max_skew,
    )
