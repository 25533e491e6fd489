"""Signed requests between nodes go through ONE dependency (tutela.api.signed_requests.signed):
it refuses a request without its key id and signature (401), without the idempotency key a route
asks for (422), or with a body over the route's limit, declared or streamed (413); it admits a key
before reading a byte; it collects what a request without a body signs. Every signed route of the
provider, the centre and the authority takes its request through it (the route table says so)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import create_engine

from tutela.api.deps import AUTH_KEY
from tutela.api.problems import install_problem_handlers
from tutela.api.signed_requests import SIGNED_ATTRIBUTE, SignedRequest, signed
from tutela.clock import FixedClock
from tutela.db.database import Database
from tutela.errors import Unauthorized
from tutela.nodes.authority import create_authority_app
from tutela.nodes.centre import create_centre_app
from tutela.nodes.provider import create_app
from tutela.settings import Settings

LIMIT = 64
SIGNATURE = {"Tutela-Key-Id": "k-1", "Tutela-Signature": "c2lnbmVk"}


async def admit(request: Request, key_id: str) -> None:
    request.app.state.admitted.append(key_id)
    if key_id == "unknown":
        raise Unauthorized("no provider holds this key")


Document = Annotated[SignedRequest, Depends(signed("a document", max_bytes=LIMIT))]
Report = Annotated[
    SignedRequest, Depends(signed("a report", max_bytes=LIMIT, idempotency=True, admit=admit))
]
Poll = Annotated[SignedRequest, Depends(signed("a poll", timestamp=True))]


def small_app(admitted: list[str]) -> FastAPI:
    app = FastAPI()
    app.state.admitted = admitted
    install_problem_handlers(app)

    @app.post("/documents")
    async def document(request: Document) -> dict[str, Any]:
        return {
            "key_id": request.key_id,
            "size": len(request.body),
            "received_at": request.received_at.isoformat(),
        }

    @app.post("/reports")
    async def report(request: Report) -> dict[str, Any]:
        return {"idempotency_key": request.idempotency_key, "size": len(request.body)}

    @app.get("/polls/{number}")
    async def poll(number: int, request: Poll) -> dict[str, Any]:
        return {"poll": list(request.poll), "body": request.body.decode(), "number": number}

    return app


def call(app: FastAPI, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(run())


@pytest.mark.parametrize(
    "headers", [{}, {"Tutela-Key-Id": "k-1"}, {"Tutela-Signature": "c2lnbmVk"}]
)
def test_a_request_without_its_key_id_and_signature_is_unauthorized(
    headers: dict[str, str],
) -> None:
    answer = call(small_app([]), "POST", "/documents", content=b"{}", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["detail"] == ("a document must carry Tutela-Key-Id and Tutela-Signature")


def test_the_body_comes_whole_within_the_limit() -> None:
    answer = call(small_app([]), "POST", "/documents", content=b"x" * LIMIT, headers=SIGNATURE)
    assert answer.status_code == 200
    assert (answer.json()["key_id"], answer.json()["size"]) == ("k-1", LIMIT)


def test_the_receipt_time_is_the_node_clocks() -> None:
    app = small_app([])
    app.state.clock = FixedClock(datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC))
    answer = call(app, "POST", "/documents", content=b"{}", headers=SIGNATURE)
    assert answer.json()["received_at"] == "2031-01-02T03:04:05+00:00"
    app.state.clock.advance(timedelta(seconds=9))
    answer = call(app, "POST", "/documents", content=b"{}", headers=SIGNATURE)
    assert answer.json()["received_at"] == "2031-01-02T03:04:14+00:00"


def test_a_body_over_the_limit_is_refused_declared_or_streamed() -> None:
    app = small_app([])
    declared = call(app, "POST", "/documents", content=b"x" * (LIMIT + 1), headers=SIGNATURE)
    assert declared.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"x" * (LIMIT // 2)

    streamed = call(app, "POST", "/documents", content=chunks(), headers=SIGNATURE)
    assert streamed.status_code == 413
    assert streamed.json()["detail"] == f"a document is at most {LIMIT} bytes"


def test_an_idempotency_key_is_required_where_the_route_asks_for_one() -> None:
    admitted: list[str] = []
    app = small_app(admitted)
    missing = call(app, "POST", "/reports", content=b"{}", headers=SIGNATURE)
    assert missing.status_code == 422 and "Idempotency-Key" in missing.json()["detail"]
    assert admitted == []  # refused before the key was looked at
    answer = call(
        app, "POST", "/reports", content=b"{}", headers={**SIGNATURE, "Idempotency-Key": "i-1"}
    )
    assert answer.json() == {"idempotency_key": "i-1", "size": 2}
    assert admitted == ["k-1"]


def test_a_key_is_admitted_before_a_byte_of_the_body_is_read() -> None:
    read: list[bytes] = []

    async def body() -> AsyncIterator[bytes]:
        read.append(b"{}")
        yield b"{}"

    headers = {"Tutela-Key-Id": "unknown", "Tutela-Signature": "c2lnbmVk", "Idempotency-Key": "i"}
    answer = call(small_app([]), "POST", "/reports", content=body(), headers=headers)
    assert answer.status_code == 401 and read == []


def test_a_request_without_a_body_brings_its_timestamp_and_target() -> None:
    app = small_app([])
    unsigned = call(app, "GET", "/polls/7?since=3", headers=SIGNATURE)
    assert unsigned.status_code == 401
    assert "Tutela-Timestamp" in unsigned.json()["detail"]
    answer = call(
        app, "GET", "/polls/7?since=3", headers={**SIGNATURE, "Tutela-Timestamp": "2024-01-01"}
    )
    assert answer.json() == {
        "poll": ["k-1", "c2lnbmVk", "2024-01-01", "/polls/7?since=3"],
        "body": "",
        "number": 7,
    }


def route_table() -> Iterator[tuple[str, str, APIRoute]]:
    """(node, path, route) of every API route, those of included routers too."""
    database = Database(create_engine("sqlite://"))  # the route table only; never queried
    apps: dict[str, Callable[[], FastAPI]] = {
        "provider": lambda: create_app(Settings(), database=database),
        "centre": lambda: create_centre_app(Settings(), database),
        "authority": lambda: create_authority_app(Settings(), database),
    }
    for node, build in apps.items():
        for context in iter_route_contexts(build().routes):
            route = context.original_route
            if isinstance(route, APIRoute) and context.path is not None:
                yield node, context.path, route


def takes_a_signed_request(route: APIRoute) -> bool:
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if hasattr(dependency.call, SIGNED_ATTRIBUTE):
            return True
        pending.extend(dependency.dependencies)
    return False


# The centre's routes that are not signed requests: liveness, its metrics (an API key) and the
# analysts' console (sessions).
UNSIGNED_CENTRE_PATHS = ("/healthz", "/metrics", "/ui")


def test_every_signed_route_of_every_node_takes_its_request_through_the_one_dependency() -> None:
    signed_routes = []
    for node, path, route in route_table():
        by_signature = AUTH_KEY in (route.openapi_extra or {})
        centre_api = node == "centre" and not path.startswith(UNSIGNED_CENTRE_PATHS)
        if by_signature or centre_api:
            assert takes_a_signed_request(route), (node, path)
            signed_routes.append((node, sorted(route.methods or ()), path))
        else:
            assert not takes_a_signed_request(route), (node, path)
    # Each node has its signed routes (a route left out of the table would go unchecked).
    assert {node for node, _, _ in signed_routes} == {"provider", "centre", "authority"}
    assert ("centre", ["POST"], "/v1/reports") in signed_routes
    assert ("centre", ["GET"], "/v1/indicators") in signed_routes
    assert ("authority", ["POST"], "/v1/order-reports") in signed_routes
    assert ("provider", ["POST"], "/v1/centre-messages") in signed_routes
