"""Mounts the review console on the provider app: its routes, its static files, and an error
rendering that sends people without a session to the login page and shows others a page."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from tutela.errors import ConfigurationError, NotFound, TutelaError
from tutela.ui import (
    audit_pages,
    auth_pages,
    order_queue_pages,
    oversight_pages,
    review_pages,
    risk_pages,
    transparency_pages,
)
from tutela.ui.access import REVIEW_SHORTCUTS, LoginRequired, page, secure

STATIC = {
    "console.css": "text/css",
    "console.js": "text/javascript",
    # The order queue's countdowns (tutela.ui.order_queue_pages).
    "order_countdown.js": "text/javascript",
}
static_router = APIRouter(prefix="/ui", include_in_schema=False)


@static_router.get("/static/{name}")
def static_file(name: str) -> Response:
    if name not in STATIC:
        raise NotFound("no such file")
    body = resources.files("tutela.ui").joinpath("static", name).read_bytes()
    return secure(Response(body, media_type=STATIC[name]))


@static_router.get("")
def console_root() -> Response:
    return secure(RedirectResponse("/ui/home", status_code=303))


def install_console(app: FastAPI) -> None:
    install_pages(
        app,
        review_pages.router,
        oversight_pages.router,
        transparency_pages.router,
        risk_pages.router,
        order_queue_pages.router,
    )


def install_pages(app: FastAPI, *routers: APIRouter, shortcuts: str = REVIEW_SHORTCUTS) -> None:
    """The console's shared parts (static files, sign-in and out, home, the audit log, error
    pages) and `routers`' pages; the centre's console is installed the same way, with its own
    `shortcuts` (the partial template its `?` overlay lists)."""
    app.state.shortcuts = shortcuts
    for router in (static_router, auth_pages.router, audit_pages.router, *routers):
        app.include_router(router)
    app.add_exception_handler(TutelaError, _console_errors(app))


ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]
AnyErrorHandler = Callable[[Request, Any], Response | Awaitable[Response]]


def _console_errors(app: FastAPI) -> ErrorHandler:
    """Errors under /ui as pages (or the way to the login page); every other path keeps the
    rendering the app had before the console was mounted (the API's problem details), which the
    node's composition root installs first (tutela.nodes)."""
    others: AnyErrorHandler | None = app.exception_handlers.get(TutelaError)
    if others is None:
        raise ConfigurationError("mount the console on an app that already renders its errors")
    outside = others

    async def handle(request: Request, error: Exception) -> Response:
        assert isinstance(error, TutelaError)
        if not request.url.path.startswith("/ui"):
            answer = outside(request, error)
            return await answer if inspect.isawaitable(answer) else answer
        if isinstance(error, LoginRequired) and request.method == "GET":
            return secure(RedirectResponse("/ui/login", status_code=303))
        return page("error.html", None, status=error.status, error=error)

    return handle
