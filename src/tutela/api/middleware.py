"""ASGI middleware: the upload size limit enforced while the body streams in, and request metrics."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tutela.api.metrics import NodeMetrics
from tutela.api.problems import problem

# Room for multipart framing and the metadata field on top of the largest file.
FRAMING_BYTES = 256 * 1024


class BodyLimit:
    """Refuse (413) a request body past the limit as soon as it is exceeded, never buffering it."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.limit = max_bytes + FRAMING_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _refuse(send, self.limit)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # Raised inside the route's body parsing; FastAPI passes HTTPException through
                    # to the problem handler (the one place this layer may use it).
                    raise HTTPException(413, f"the request body is over {self.limit} bytes")
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
