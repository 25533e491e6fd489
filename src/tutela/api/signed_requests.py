"""Requests one node signs for another (reports, follow-ups, orders and their copies, the
centre's messages, victims' requests, compliance documents; status polls and feed pages): ONE
FastAPI dependency, `signed(...)`, takes what every such route needs before the rules of its
domain verify the signature against their registered keys and recognise a replay — the key id
and signature headers (401 without them), the idempotency key where the route asks for one, the
signed time of a request without a body, and the body, refused (413) as soon as it passes the
route's limit, never buffered beyond it (the signature can only be checked once it is whole).
The time of receipt comes from the node's clock (`app.state.clock`, set by each app factory; tests
fix it), here and nowhere else on a signed route."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse

from tutela.clock import Clock, SystemClock
from tutela.errors import InvalidInput, RequestTooLarge, Unauthorized

# Set on every dependency `signed` returns: tests find the signed routes by it in the route table.
SIGNED_ATTRIBUTE = "tutela_signed_request"
# Marks the answer to a repeated request (the IETF Idempotency-Key draft's practice).
REPLAYED_HEADER = "Idempotent-Replayed"
# A route's limit: bytes, or what the app's settings say for the request at hand.
Limit = int | Callable[[Request], int]
KeyIdHeader = Annotated[str | None, Header(alias="Tutela-Key-Id")]
SignatureHeader = Annotated[str | None, Header(alias="Tutela-Signature")]
TimestampHeader = Annotated[str | None, Header(alias="Tutela-Timestamp")]
IdempotencyHeader = Annotated[str | None, Header(alias="Idempotency-Key")]
# Run once the headers are there and before a byte of the body is read (the centre reads nothing
# for a key no registered provider holds).
Admit = Callable[[Request, str], Awaitable[None]]


def node_clock(request: Request) -> Clock:
    """The clock of the app serving `request`: its factory's `app.state.clock`, else the
    machine's (an app built without one, as small test apps are)."""
    clock: Clock | None = getattr(request.app.state, "clock", None)
    return clock if clock is not None else SystemClock()


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What a signed request brought: who says they signed it, the signature, and what was
    signed (the body; for a request without one, `<METHOD> <target> <timestamp>`)."""

    key_id: str
    signature: str
    body: bytes
    # When the node received it, by the node's clock (node_clock): the receipt's time.
    received_at: datetime
    path: str
    query: str = ""
    timestamp: str | None = None
    idempotency_key: str | None = None

    @property
    def target(self) -> str:
        """The path and query string, as a request without a body signs them."""
        return self.path + (f"?{self.query}" if self.query else "")

    @property
    def poll(self) -> tuple[str, str, str, str]:
        """(key id, signature, timestamp, target): what `centre.providers.verify_signed_request`
        takes of a request without a body."""
        assert self.timestamp is not None, "signed(..., timestamp=True) collects it"
        return self.key_id, self.signature, self.timestamp, self.target


def signed(
    what: str,
    *,
    max_bytes: Limit = 0,
    timestamp: bool = False,
    idempotency: bool = False,
    admit: Admit | None = None,
) -> Callable[..., Awaitable[SignedRequest]]:
    """The dependency of one signed route. `what` names the request in refusals ("a report");
    `max_bytes` is its body's limit (0: a request without a body, signed over its method, target
    and `Tutela-Timestamp`, which `timestamp` then requires); `idempotency` requires an
    `Idempotency-Key`."""
    if timestamp and (idempotency or max_bytes):
        raise ValueError("a request signed over its timestamp has no body and no idempotency key")
    needed = (
        "Tutela-Key-Id, Tutela-Timestamp, Tutela-Signature"
        if timestamp
        else "Tutela-Key-Id and Tutela-Signature"
    )

    async def collect(
        request: Request,
        key_id: str | None,
        signature: str | None,
        signed_time: str | None = None,
        idempotency_key: str | None = None,
    ) -> SignedRequest:
        if not key_id or not signature or (timestamp and not signed_time):
            raise Unauthorized(f"{what} must carry {needed}")
        if idempotency and not idempotency_key:
            raise InvalidInput(f"{what} must carry an Idempotency-Key")
        if admit is not None:
            await admit(request, key_id)
        limit = max_bytes(request) if callable(max_bytes) else max_bytes
        body = await bounded_body(request, limit, what) if limit else b""
        url, now = request.url, node_clock(request).now()
        return SignedRequest(
            key_id, signature, body, now, url.path, url.query, signed_time, idempotency_key
        )

    # The headers each kind declares, so that the OpenAPI document names what a route needs.
    async def with_body(
        request: Request, key_id: KeyIdHeader = None, signature: SignatureHeader = None
    ) -> SignedRequest:
        return await collect(request, key_id, signature)

    async def with_idempotency_key(
        request: Request,
        key_id: KeyIdHeader = None,
        signature: SignatureHeader = None,
        idempotency_key: IdempotencyHeader = None,
    ) -> SignedRequest:
        return await collect(request, key_id, signature, idempotency_key=idempotency_key)

    async def with_timestamp(
        request: Request,
        key_id: KeyIdHeader = None,
        signature: SignatureHeader = None,
        signed_time: TimestampHeader = None,
    ) -> SignedRequest:
        return await collect(request, key_id, signature, signed_time)

    dependency = (
        with_timestamp if timestamp else (with_idempotency_key if idempotency else with_body)
    )
    setattr(dependency, SIGNED_ATTRIBUTE, what)
    return dependency


async def bounded_body(request: Request, limit: int, what: str) -> bytes:
    """The body, refused (413) as soon as it passes `limit`: a declared length over it is
    refused before a byte is read, and a body that streams past it is not read further."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(f"{what} is at most {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(f"{what} is at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def stored(answer: dict[str, Any], created: bool, *, status_code: int = 201) -> JSONResponse:
    """The answer to a signed request that stores something: `status_code`, and a repeat marked
    `Idempotent-Replayed: true` (answered as the first time)."""
    return JSONResponse(
        answer, status_code=status_code, headers=None if created else {REPLAYED_HEADER: "true"}
    )
