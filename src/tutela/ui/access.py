"""Who is behind a console request, and whether they may be here: one dependency per route,
`require_roles(...)`, that declares the roles it admits, checks the session cookie and, for every
state-changing request, the CSRF token."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from tutela.audit.log import user_actor
from tutela.auth.csrf import issue_csrf_token, verify_csrf_token
from tutela.auth.roles import Role
from tutela.auth.sessions import SessionPolicy, authenticate_session
from tutela.auth.users import UserView
from tutela.db.database import Database
from tutela.errors import Forbidden, Unauthorized
from tutela.security_headers import SECURITY_HEADERS
from tutela.settings import Settings

SESSION_COOKIE = "tutela_session"
LOGIN_CSRF_COOKIE = "tutela_login_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD"})
ROLES_ATTRIBUTE = "tutela_roles"

REVIEWERS = (Role.REVIEWER, Role.SENIOR_REVIEWER)
SENIORS = (Role.SENIOR_REVIEWER,)
AUDIT_READERS = (Role.AUDITOR, Role.ADMINISTRATOR, Role.COMPLIANCE_OFFICER)
ANALYSTS = (Role.ANALYST, Role.SENIOR_ANALYST)
SENIOR_ANALYSTS = (Role.SENIOR_ANALYST,)
EVERYONE = tuple(Role)
# The partial template that lists a console's keyboard shortcuts in its `?` overlay; the app's
# `state.shortcuts` names it (see tutela.ui.console.install_pages).
REVIEW_SHORTCUTS = "review_shortcuts.html"


class ConsoleServices(Protocol):
    """What console pages need of an app's services: the provider's `Services`, or the centre's
    console services (see tutela.ui.centre_pages)."""

    settings: Settings
    database: Database


def get_console_services(request: Request) -> ConsoleServices:
    services: ConsoleServices = request.app.state.services
    return services


ConsoleServicesDep = Annotated[ConsoleServices, Depends(get_console_services)]


class LoginRequired(Unauthorized):
    """No live console session: pages send the browser to the login page."""

    code = "login_required"


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in person of a request."""

    user: UserView
    session_token: str
    services: ConsoleServices
    shortcuts: str = REVIEW_SHORTCUTS

    @property
    def actor(self) -> str:
        return user_actor(self.user.id)

    @property
    def csrf_token(self) -> str:
        return issue_csrf_token(self.session_token)


def require_roles(*roles: Role) -> Callable[..., Awaitable[Viewer]]:
    """The dependency of a console route: a signed-in person holding one of `roles`."""
    admitted = frozenset(roles)

    async def check(request: Request, services: ConsoleServicesDep) -> Viewer:
        token = request.cookies.get(SESSION_COOKIE)
        policy = SessionPolicy.from_settings(services.settings)
        try:
            signed_in = await run_in_threadpool(
                authenticate_session, services.database, token, policy=policy
            )
        except Unauthorized as error:
            raise LoginRequired(error.message) from None
        if not admitted & signed_in.user.roles:
            raise Forbidden("your roles do not admit you to this page")
        assert token is not None
        if request.method not in SAFE_METHODS:
            submitted = request.headers.get(CSRF_HEADER)
            if submitted is None:
                form = await request.form()
                value = form.get(CSRF_FIELD)
                submitted = value if isinstance(value, str) else None
            verify_csrf_token(token, submitted)
        return Viewer(signed_in.user, token, services, request.app.state.shortcuts)

    setattr(check, ROLES_ATTRIBUTE, admitted)
    return check


ReviewerDep = Annotated[Viewer, Depends(require_roles(*REVIEWERS))]
SeniorDep = Annotated[Viewer, Depends(require_roles(*SENIORS))]
AuditDep = Annotated[Viewer, Depends(require_roles(*AUDIT_READERS))]
AnyoneDep = Annotated[Viewer, Depends(require_roles(*EVERYONE))]
AnalystDep = Annotated[Viewer, Depends(require_roles(*ANALYSTS))]
SeniorAnalystDep = Annotated[Viewer, Depends(require_roles(*SENIOR_ANALYSTS))]

_environment: Environment | None = None


def templates() -> Environment:
    global _environment
    if _environment is None:
        _environment = Environment(
            loader=PackageLoader("tutela.ui", "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return _environment


def page(name: str, viewer: Viewer | None, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a template with the security headers every console page carries."""
    html = templates().get_template(name).render(viewer=viewer, **context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def set_session_cookie(response: Response, token: str, services: ConsoleServices) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=not services.settings.console_insecure_cookies,
        path="/ui",
    )
