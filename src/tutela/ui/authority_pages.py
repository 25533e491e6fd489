"""The authority's console, mounted on the authority app with the provider console's shared
parts (sign-in, sessions, CSRF, `require_roles`, templates, style, the audit log page): every
order with its state (sent, received, executed, impediment, overdue; in force or ended for
blocking and delisting orders) and the time it took or has left; a case officer issues removal,
blocking, delisting and detection orders through a form (the same services as `tutela authority
order`);
an order's page shows its items' outcomes and the provider's signed execution report, and a case
officer answers an impediment there (a clarification, or the order withdrawn). A supervisor reads
everything and issues nothing. Every page view is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Form
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from tutela.audit.log import Action, Subject, record
from tutela.auth.roles import Role
from tutela.authority.access_issuing import issue_access_order
from tutela.authority.detection_issuing import issue_detection_order
from tutela.authority.impediment_answers import answer_impediment, answers_of
from tutela.authority.impediments import filed_impediments
from tutela.authority.issuing import DEFAULT_REDRESS, IssuedView, Issuer, issue_removal_order
from tutela.authority.keys import load_authority_key
from tutela.authority.models import OrderedProvider
from tutela.authority.supervision import (
    SignedReport,
    SupervisedOrder,
    supervised_order,
    supervised_orders,
)
from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.detection.kinds import DetectionKind
from tutela.errors import InvalidInput
from tutela.orders.access_documents import end_of, entry_of
from tutela.orders.documents import ITEM_KEYS
from tutela.orders.states import OrderKind
from tutela.settings import Settings
from tutela.ui.access import Viewer, page, require_roles, secure
from tutela.ui.console import install_pages

router = APIRouter(prefix="/ui", include_in_schema=False)
SHORTCUTS = "authority_shortcuts.html"
ORDERS = "/ui/orders"
OfficerDep = Annotated[Viewer, Depends(require_roles(Role.CASE_OFFICER))]
ReaderDep = Annotated[Viewer, Depends(require_roles(Role.CASE_OFFICER, Role.SUPERVISOR))]


@dataclass
class AuthorityConsoleServices:
    """The authority app's services as console pages need them (see `ConsoleServices`)."""

    settings: Settings
    database: Database


def install_authority_console(app: FastAPI, settings: Settings, database: Database) -> None:
    app.state.services = AuthorityConsoleServices(settings, database)
    install_pages(app, router, shortcuts=SHORTCUTS)


def _deadline(viewer: Viewer) -> timedelta:
    return timedelta(hours=viewer.services.settings.removal_deadline_hours)


@router.get("/orders")
async def orders_page(viewer: ReaderDep) -> Response:
    def view() -> list[SupervisedOrder]:
        database = viewer.services.database
        rows = supervised_orders(database, utc_now(), _deadline(viewer))
        with database.unit_of_work() as session:
            record(session, viewer.actor, Action.VIEW, Subject("orders", "-"), {})
        return rows

    rows = await run_in_threadpool(view)
    officer = Role.CASE_OFFICER in viewer.user.roles
    return page("authority_orders.html", viewer, orders=rows, officer=officer, queue_url=ORDERS)


@router.get("/orders/new")
async def new_order_page(viewer: OfficerDep, kind: str = OrderKind.REMOVAL) -> Response:
    def providers() -> list[str]:
        with viewer.services.database.reader() as session:
            return list(
                session.scalars(select(OrderedProvider.name).order_by(OrderedProvider.name))
            )

    names = await run_in_threadpool(providers)
    return page(
        "authority_new_order.html",
        viewer,
        providers=names,
        kinds=[k.value for k in OrderKind],
        detection_kinds=[k.value for k in DetectionKind],
        kind=kind,
        redress=DEFAULT_REDRESS,
        queue_url=ORDERS,
    )


@router.post("/orders")
async def issue_order(
    viewer: OfficerDep,
    provider: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = OrderKind.REMOVAL,
    items: Annotated[str, Form()] = "",
    reasons: Annotated[str, Form()] = "",
    ends: Annotated[str, Form()] = "",
    non_disclosure_weeks: Annotated[int, Form()] = 0,
    starts: Annotated[str, Form()] = "",
    detection_kinds: Annotated[list[str] | None, Form()] = None,
    safeguards: Annotated[str, Form()] = "",
) -> Response:
    """Issue one order from the form; on to its page."""
    settings = viewer.services.settings
    lines = [line.strip() for line in items.splitlines() if line.strip()]

    def issue() -> IssuedView:
        issuer, key = Issuer.of(settings), load_authority_key(settings)
        database, name = viewer.services.database, viewer.user.name
        if kind == OrderKind.REMOVAL:
            refs = [_item_ref(line) for line in lines]
            return issue_removal_order(
                database,
                name,
                provider,
                refs,
                reasons,
                issuer,
                key,
                non_disclosure_weeks=non_disclosure_weeks,
            )
        if kind == OrderKind.DETECTION:  # items: the service parts, one per line
            return issue_detection_order(
                database,
                name,
                provider,
                lines,
                detection_kinds or ["known"],
                end_of(ends),
                safeguards,
                reasons,
                issuer,
                key,
                starts_at=_start_of(starts),
            )
        if kind not in (OrderKind.BLOCKING, OrderKind.DELISTING):
            raise InvalidInput("the kind is removal, blocking, delisting or detection")
        entries = [entry_of(line) for line in lines]
        return issue_access_order(
            database, name, provider, OrderKind(kind), entries, end_of(ends), reasons, issuer, key
        )

    issued = await run_in_threadpool(issue)
    return secure(RedirectResponse(f"{ORDERS}/{issued.id}", status_code=303))


@router.get("/orders/{order_id}")
async def order_page(order_id: int, viewer: ReaderDep) -> Response:
    def view() -> tuple[SupervisedOrder, SignedReport | None]:
        database = viewer.services.database
        shown = supervised_order(database, order_id, utc_now(), _deadline(viewer))
        with database.unit_of_work() as session:
            record(session, viewer.actor, Action.VIEW, Subject("order", str(order_id)), {})
        return shown

    order, report = await run_in_threadpool(view)
    officer = Role.CASE_OFFICER in viewer.user.roles
    answers = await run_in_threadpool(answers_of, viewer.services.database, order_id)
    impediments = await run_in_threadpool(filed_impediments, viewer.services.database, order_id)
    return page(
        "authority_order.html",
        viewer,
        order=order,
        report=report,
        answers=answers,
        impediments=impediments,
        officer=officer,
        queue_url=ORDERS,
    )


@router.post("/orders/{order_id}/answer")
async def answer_order(
    order_id: int,
    viewer: OfficerDep,
    answer: Annotated[str, Form()] = "",
    clarification: Annotated[str, Form()] = "",
) -> Response:
    """Answer the impediment the order's report names (Art 14(5)-(6)): a clarification, or the
    order withdrawn; signed and queued for the provider. Back to the order's page."""
    settings = viewer.services.settings

    def act() -> None:
        issuer = Issuer.of(settings)
        answer_impediment(
            viewer.services.database,
            viewer.user.name,
            str(order_id),
            answer,
            issuer.name,
            load_authority_key(settings),
            clarification=clarification,
            centre_url=issuer.centre_url,
        )

    await run_in_threadpool(act)
    return secure(RedirectResponse(f"{ORDERS}/{order_id}", status_code=303))


def _start_of(text: str) -> datetime | None:
    """A detection order's start as the form's date gives it; today (or none): at once."""
    if not text.strip():
        return None
    start = end_of(text)
    return None if start.date() == utc_now().date() else start


def _item_ref(line: str) -> tuple[str, str]:
    """An item as typed: `item_id=…`, `url=…`, `sha256=…`, or a bare item id."""
    key, sep, rest = line.partition("=")
    if not sep:
        return "item_id", line
    if key.strip() not in ITEM_KEYS:
        raise InvalidInput("an item is item_id=…, url=… or sha256=…")
    return key.strip(), rest.strip()
