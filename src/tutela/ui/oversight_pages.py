"""Pages for oversight: the complaint queue (senior reviewers, DSA Art 20). The audit log page is
shared with the centre's console (tutela.ui.audit_pages)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tutela.enforcement.complaints import decide_complaint, list_complaints
from tutela.ui.access import SeniorDep, page, secure

router = APIRouter(prefix="/ui", include_in_schema=False)


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
        )
    )
    return secure(RedirectResponse("/ui/complaints", status_code=303))
