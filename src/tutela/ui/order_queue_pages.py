"""The provider's order queue in the review console, for its compliance officers (who answer
authorities): every removal order received, with a live countdown from receipt (or from the
authority's clarification of an impediment) — the remaining time is rendered by the server and a
small local script (`/ui/static/order_countdown.js`, nothing from elsewhere: the console's CSP
allows only its own scripts) ticks it down — marks at 50 % and 90 % of the time and overdue,
each item's state, the impediment form (Annex V) for an item that cannot be removed, the
authority's answers, and the signed execution reports with their delivery. Time comes from the
app's clock (`app.state.clock`; the system clock unless a test set one). Every page view and
every impediment filed is audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tutela.audit.log import Action, Subject, record
from tutela.auth.roles import Role
from tutela.messaging.signing import default_key_file, load_key_file
from tutela.orders.execution import file_impediment
from tutela.orders.queue import QueuedOrder, order_queue, queued_order
from tutela.orders.states import Impediment
from tutela.ui.access import Viewer, page, require_roles, secure
from tutela.ui.risk_pages import ClockDep

router = APIRouter(prefix="/ui", include_in_schema=False)
QUEUE = "/ui/order-queue"
ID_MAX = 2**63 - 1
# The provider's people who answer authorities: its compliance officers.
OrderHandlerDep = Annotated[Viewer, Depends(require_roles(Role.COMPLIANCE_OFFICER))]


@router.get("/order-queue")
async def order_queue_page(viewer: OrderHandlerDep, clock: ClockDep) -> Response:
    def view() -> list[QueuedOrder]:
        database = viewer.services.database
        now = clock.now()
        rows = order_queue(database, now)
        with database.unit_of_work() as session:
            record(session, viewer.actor, Action.VIEW, Subject("orders", "-"), {}, now=now)
        return rows

    rows = await run_in_threadpool(view)
    return page("order_queue.html", viewer, orders=rows, queue_url=QUEUE)


@router.get("/order-queue/{order_id}")
async def queued_order_page(
    order_id: Annotated[int, Path(ge=1, le=ID_MAX)], viewer: OrderHandlerDep, clock: ClockDep
) -> Response:
    def view() -> tuple[object, ...]:
        database = viewer.services.database
        now = clock.now()
        shown = queued_order(database, order_id, now)
        with database.unit_of_work() as session:
            record(session, viewer.actor, Action.VIEW, Subject("order", str(order_id)), {}, now=now)
        return shown

    order, answers, reports = await run_in_threadpool(view)
    return page(
        "order_queue_order.html",
        viewer,
        o=order,
        answers=answers,
        reports=reports,
        reasons=[reason.value for reason in Impediment],
        queue_url=QUEUE,
    )


@router.post("/order-queue/{order_id}/items/{item_id}/impediment")
async def impediment_form(
    order_id: Annotated[int, Path(ge=1, le=ID_MAX)],
    item_id: Annotated[int, Path(ge=1, le=ID_MAX)],
    viewer: OrderHandlerDep,
    clock: ClockDep,
    reason: Annotated[str, Form()] = "",
    explanation: Annotated[str, Form()] = "",
) -> Response:
    """File an impediment for one item (Annex V): it leaves the clock; once every item is
    settled, the signed execution report goes to the authority."""

    def act() -> None:
        key = load_key_file(default_key_file(viewer.services.settings))
        file_impediment(
            viewer.services.database,
            order_id,
            item_id,
            viewer.actor,
            key,
            platform=None,
            reason=reason,
            explanation=explanation,
            clock=clock,
        )

    await run_in_threadpool(act)
    return secure(RedirectResponse(f"{QUEUE}/{order_id}", status_code=303))
