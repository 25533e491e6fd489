"""ASGI middleware: the upload size limit enforced while the body streams in, request metrics,
and the guards every node's HTTP layer carries (`harden`): a deadline on the request body,
security headers on every answer, and problem details instead of a bare 500."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping

import anyio
from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tutela.api.metrics import NodeMetrics
from tutela.api.problems import problem, render_error
from tutela.errors import InternalError, InvalidInput
from tutela.security_headers import SECURITY_HEADERS
from tutela.settings import Settings

log = logging.getLogger(__name__)
# A year; browsers that saw it over HTTPS will not speak plain HTTP to this host meanwhile.
HSTS = "max-age=31536000"
# The API's documentation pages load Swagger UI and ReDoc from their CDN, which the console's
# content security policy forbids; they get every other header.
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})

# Room for multipart framing and the metadata field on top of the largest file.
FRAMING_BYTES = 256 * 1024


class BodyLimit:
    """Refuse (413) a request body past the limit as soon as it is exceeded, never buffering it.

    `larger`: paths whose route streams its body to disk (video uploads) and enforces its own
    limits while it does, with the largest body they may take."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, larger: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.limit = max_bytes + FRAMING_BYTES
        self.larger = {path: size + FRAMING_BYTES for path, size in (larger or {}).items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope.get("path", ""), self.limit)
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _refuse(send, limit)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Raised inside the route's body parsing; FastAPI passes HTTPException through
                    # to the problem handler (the one place this layer may use it).
                    raise HTTPException(413, f"the request body is over {limit} bytes")
            return message

        await self.app(scope, limited, send)


async def _refuse(send: Send, limit: int) -> None:
    response = problem(413, "too_large", f"the request body is over {limit} bytes")
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": response.raw_headers,
        }
    )
    await send({"type": "http.response.body", "body": response.body})


class RequestMetrics:
    """Count requests by route template (never the raw path: ids are not labels) and status."""

    def __init__(self, app: ASGIApp, *, metrics: NodeMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording)
        finally:
            self.metrics.count_request(scope["method"], _template(scope), status)


def _template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def harden(app: FastAPI, settings: Settings) -> None:
    """The guards of every node's HTTP layer; call once the app's own middleware is added."""
    app.add_middleware(NoNulInUrl)
    app.add_middleware(BodyDeadline, timeout_s=settings.http_body_timeout_s)
    app.add_middleware(UnexpectedErrors)
    app.add_middleware(SecurityHeaders, behind_tls=settings.behind_tls)


class NoNulInUrl:
    """Refuse (422 invalid_input) a path or query string holding a NUL character: no route takes
    one, and PostgreSQL's driver refuses it wherever it reaches a query, as a defect (500)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope["path"] or b"%00" in scope.get("query_string", b"").lower()
        ):
            refused = InvalidInput("the URL holds a NUL character")
            response = await render_error(Request(scope), refused)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyDeadline:
    """Cut off (408, connection closed) a request whose body has not arrived `timeout_s` after
    its headers did: a client trickling bytes would otherwise hold a connection and a task for
    ever (slowloris). Once the body is complete, reads (waiting for a disconnect) are not timed."""

    def __init__(self, app: ASGIApp, *, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = anyio.current_time() + self.timeout_s
        complete = False

        async def timed() -> Message:
            nonlocal complete
            if complete:
                return await receive()
            with anyio.move_on_after(deadline - anyio.current_time()) as waited:
                message = await receive()
            if waited.cancelled_caught:
                # Raised inside the route's body parsing, rendered by the problem handler.
                raise HTTPException(
                    408,
                    f"the request body did not arrive within {self.timeout_s:g} s",
                    headers={"Connection": "close"},
                )
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, timed, send)


class UnexpectedErrors:
    """A defect's exception becomes a 500 problem (or the console's error page), never a bare
    text answer; it is logged by type and stack only, since its message may quote the request's
    data (DESIGN rule 2: content never in logs)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as error:
            log.error(
                "unexpected %s answering %s %s\n%s",
                type(error).__name__,
                scope["method"],
                _template(scope),
                "".join(traceback.format_tb(error.__traceback__)),
            )
            if started:
                return  # the server closes the connection of an answer it cannot complete
            failure = InternalError("the node failed to answer; nothing was changed")
            response = await render_error(Request(scope), failure)
            await response(scope, receive, send)


class SecurityHeaders:
    """The console's security headers on every answer of the node, error pages included
    (a header the answer set itself stays), and HSTS on answers over HTTPS, or on every answer
    when a TLS proxy fronts the node (TUTELA_BEHIND_TLS)."""

    def __init__(self, app: ASGIApp, *, behind_tls: bool) -> None:
        self.app = app
        self.behind_tls = behind_tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"] in DOCS_PATHS
        tls = self.behind_tls or scope.get("scheme") == "https"

        async def headed(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=list(message.get("headers", [])))
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers and not (docs and name == "Content-Security-Policy"):
                        headers[name] = value
                if tls and "strict-transport-security" not in headers:
                    headers["Strict-Transport-Security"] = HSTS
                message["headers"] = headers.raw
            await send(message)

        await self.app(scope, receive, headed)
