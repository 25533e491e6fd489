"""Pages for oversight: the audit log with its chain status (auditors), and the complaint queue
(senior reviewers, DSA Art 20)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tutela.audit.log import list_entries
from tutela.audit.verify import verify_chain
from tutela.enforcement.complaints import decide_complaint, list_complaints
from tutela.ui.access import AuditDep, SeniorDep, page, secure

router = APIRouter(prefix="/ui", include_in_schema=False)
AUDIT_PAGE = 200


@router.get("/audit")
def audit(viewer: AuditDep, action: str | None = None, after: int = 0) -> Response:
    with viewer.services.database.reader() as session:
        chain = verify_chain(session)
        start = after or max(0, chain.head_seq - AUDIT_PAGE)
        entries = list_entries(session, after_seq=start, limit=AUDIT_PAGE, action=action or None)
    return page(
        "audit.html", viewer, chain=chain, entries=list(reversed(entries)), action=action or ""
    )


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
