"""Signing in and out of the console: a password form protected by a login CSRF cookie (double
submit: there is no session yet to bind a token to), then a server-side session cookie."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tutela.auth.client_addresses import client_address
from tutela.auth.roles import Permission, permissions_of
from tutela.auth.sessions import SessionPolicy, log_in, log_out
from tutela.errors import CsrfRejected, Unauthorized
from tutela.ui.access import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    AnyoneDep,
    ConsoleServicesDep,
    page,
    secure,
    set_session_cookie,
)

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/login")
def login_form(services: ConsoleServicesDep) -> Response:
    token = secrets.token_urlsafe(32)
    response = page("login.html", None, login_csrf=token, error=None)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=not services.settings.console_insecure_cookies,
        path="/ui",
    )
    return response


@router.post("/login")
async def login(
    request: Request,
    services: ConsoleServicesDep,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf):
        raise CsrfRejected("the login form expired; load it again")
    address = client_address(
        request.client.host if request.client else None,
        request.headers.get("x-forwarded-for"),
        services.settings.trusted_proxies,
    )
    try:
        signed = await run_in_threadpool(
            log_in,
            services.database,
            name,
            password,
            address,
            policy=SessionPolicy.from_settings(services.settings),
        )
    except Unauthorized as error:
        return page("login.html", None, status=error.status, login_csrf=csrf, error=error.message)
    granted = permissions_of(signed.user.roles)
    target = "/ui/home"
    if Permission.REVIEW in granted:
        target = "/ui/queue"
    elif Permission.TRIAGE in granted:
        target = "/ui/triage"
    elif Permission.SUPERVISE_ORDERS in granted:
        target = "/ui/orders"
    response = secure(RedirectResponse(target, status_code=303))
    set_session_cookie(response, signed.token, services)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui")
    return response


@router.post("/logout")
async def logout(viewer: AnyoneDep) -> Response:
    await run_in_threadpool(log_out, viewer.services.database, viewer.session_token)
    response = secure(RedirectResponse("/ui/login", status_code=303))
    response.delete_cookie(SESSION_COOKIE, path="/ui")
    return response


@router.get("/home")
def home(viewer: AnyoneDep) -> Response:
    """Where everyone lands: links to the pages their roles open."""
    return page("home.html", viewer, permissions=permissions_of(viewer.user.roles))
