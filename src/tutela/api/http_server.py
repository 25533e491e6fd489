"""How both nodes' HTTP server runs: uvicorn's options, with a connection protocol that cuts off
a client too slow to send its request line and headers (slowloris), or sending too many of them.
The body's own deadline is an ASGI middleware (tutela.api.middleware.BodyDeadline)."""

from __future__ import annotations

import asyncio
import json
from functools import partial
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tutela.errors import MediaTooLarge, RequestTimeout
from tutela.settings import Settings

# Request line and headers together; uvicorn's httptools parser has no limit of its own.
MAX_HEADER_BYTES = 64 * 1024
# Seconds an idle keep-alive connection is kept (uvicorn's default, stated).
KEEP_ALIVE_S = 5


def server_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` of either node. The protocol is a partial of a
    module-level class, so that it pickles into `--workers N` processes."""
    return {
        "http": partial(
            GuardedHttpProtocol,
            header_timeout_s=settings.http_header_timeout_s,
            max_header_bytes=MAX_HEADER_BYTES,
        ),
        "timeout_keep_alive": KEEP_ALIVE_S,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
    }


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline on each request's headers, from the
    connection or the request's first byte, and a cap on their size; and a connection whose
    answer went out before its request's body had arrived is closed, not kept for a client
    still trickling that body."""

    def __init__(
        self, *args: Any, header_timeout_s: float, max_header_bytes: int, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._header_timeout_s = header_timeout_s
        self._max_header_bytes = max_header_bytes
        self._header_timer: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._in_headers = True

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_headers and not self.transport.is_closing():
            # The whole chunk counts only while the headers are still incomplete after it.
            self._header_bytes += len(data)
            if self._header_bytes > self._max_header_bytes:
                self._refuse(431, MediaTooLarge.code, "the request headers are too large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        self._header_bytes = 0
        if self._header_timer is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._disarm()
        super().on_headers_complete()
        cycle = self.cycle
        answer = cycle.send

        async def send(message: Any) -> None:
            # An answer started before the body has all arrived ends the connection (see
            # on_response_complete): say so in it, or a keep-alive client would send its next
            # request into a closing socket and read a reset.
            if message["type"] == "http.response.start" and cycle.more_body:
                cycle.keep_alive = False
            await answer(message)

        cycle.send = send  # type: ignore[method-assign]

    def on_response_complete(self) -> None:
        # With requests queued behind it (pipelining), the answered request's body was complete.
        body_pending = not self.pipeline and self.cycle is not None and self.cycle.more_body
        super().on_response_complete()
        if body_pending and not self.transport.is_closing():
            self.transport.close()

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self._header_timeout_s, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if not self._in_headers or self.transport.is_closing():
            return
        answering = self.cycle is not None and not self.cycle.response_complete
        if self._header_bytes == 0 or answering:
            # Idle, nothing to answer; or an answer is being written, which a refusal would cut.
            self.transport.close()
            return
        detail = f"the request headers did not arrive within {self._header_timeout_s:g} s"
        self._refuse(RequestTimeout.status, RequestTimeout.code, detail)

    def _refuse(self, status: int, code: str, detail: str) -> None:
        """Answer a problem and close, before any request reached the app."""
        self._disarm()
        body = json.dumps(
            {"type": f"https://tutela.example/problems/{code}", "status": status, "code": code}
            | {"title": code.replace("_", " "), "detail": detail}
        ).encode()
        reason = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}[status]
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: application/problem+json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (status, reason, len(body), body)
        )
        self.transport.close()
