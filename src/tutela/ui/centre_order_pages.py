"""The centre console's pages of the authority's answers to impediments, as copied to the centre
(`POST /v1/orders/answers`, tutela.centre.order_copies): every answer's copy, newest first, and
one order's copy with its answers. For the centre's analysts; every look is in the audit log."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from tutela.audit.log import Action, Subject, record
from tutela.centre.order_copy_views import (
    AnswerCopyView,
    OrderCopyView,
    answer_copies,
    order_copy,
)
from tutela.ui.access import AnalystDep, page

router = APIRouter(prefix="/ui", include_in_schema=False)
ANSWERS = "/ui/order-answers"


@router.get("/order-answers")
async def answers_page(viewer: AnalystDep) -> Response:
    def read() -> list[AnswerCopyView]:
        with viewer.services.database.unit_of_work() as session:
            shown = answer_copies(session)
            record(session, viewer.actor, Action.VIEW, Subject("order_answers", "-"), {})
            return shown

    entries = await run_in_threadpool(read)
    return page("centre_order_answers.html", viewer, entries=entries)


@router.get("/order-copies/{order_ref}")
async def order_page(order_ref: str, viewer: AnalystDep) -> Response:
    def read() -> OrderCopyView:
        with viewer.services.database.unit_of_work() as session:
            shown = order_copy(session, order_ref)
            record(session, viewer.actor, Action.VIEW, Subject("order_copy", order_ref[:64]), {})
            return shown

    order = await run_in_threadpool(read)
    return page("centre_order_copy.html", viewer, order=order, answers_url=ANSWERS)
