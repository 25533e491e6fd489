"""The centre node's composition root: `create_centre_app(settings, database)` with report intake
(`POST /v1/reports`), the provider's status poll and the signed indicator feed
(`GET /v1/indicators`). Lives in `api` because domain packages know nothing of HTTP (DESIGN
layers); the rules are in `tutela.centre`.

`tutela centre serve --workers N` runs N processes, each built by `centre_app_from_env`; they
share nothing but the database, which is all intake and linking rely on (see
`tutela.centre.linking`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Annotated

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

import tutela
from tutela.api.problems import install_problem_handlers
from tutela.centre.feed import signed_feed_page
from tutela.centre.intake import MAX_BODY_BYTES, receive_report
from tutela.centre.keys import load_centre_key
from tutela.centre.linking import PdqLinker
from tutela.centre.providers import ProviderKeys
from tutela.centre.status import report_status
from tutela.db.database import Database
from tutela.db.engine import create_engine_from
from tutela.db.types import utc_now
from tutela.errors import InvalidInput, Unauthorized
from tutela.process import startup_heap_frozen
from tutela.reporting.signing import SigningKey
from tutela.settings import Settings
from tutela.ui.centre_pages import install_centre_console

# Intakes one process runs at once. More would only queue on PostgreSQL's commits and the GIL;
# fewer leaves the database idle while a thread parses or verifies. The pool holds one
# connection per intake thread plus a few for status polls and the feed, so that no intake
# opens and closes a connection of its own.
INTAKE_THREADS = 8
POOL_SIZE = INTAKE_THREADS + 4


def open_centre_database(settings: Settings, *, migrate: bool = True) -> Database:
    """The centre's database, with a connection pool sized for its intake threads."""
    database = Database(create_engine_from(settings, pool_size=POOL_SIZE, max_overflow=8))
    if migrate:
        database.upgrade()
    return database


def centre_app_from_env() -> FastAPI:
    """The app of one uvicorn worker process (`uvicorn.run(..., factory=True)`): settings from
    the environment; the schema was brought up to date by the serving command before the
    workers started."""
    settings = Settings.from_env()
    return create_centre_app(settings, open_centre_database(settings, migrate=False), owns=True)


def create_centre_app(
    settings: Settings,
    database: Database | None = None,
    *,
    key: SigningKey | None = None,
    owns: bool = False,
) -> FastAPI:
    """A centre node app. A database passed in is the caller's to close, unless `owns`. The
    centre's key is read on first use, so a node that only takes reports runs without one."""
    owns_database = database is None or owns
    db = database or open_centre_database(settings)
    linker = PdqLinker()
    keys = ProviderKeys()
    intake_threads = CapacityLimiter(INTAKE_THREADS)
    centre_keys: list[SigningKey] = [key] if key is not None else []

    def centre_key() -> SigningKey:
        if not centre_keys:
            centre_keys.append(load_centre_key(settings))
        return centre_keys[0]

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(linker.warm)
        try:
            with startup_heap_frozen():
                yield
        finally:
            if owns_database:
                db.close()

    app = FastAPI(
        title="Tutela centre node",
        version=tutela.__version__,
        description="EU Centre: receives signed reports, triages and forwards them (Art 46-48).",
        lifespan=lifespan,
    )
    install_problem_handlers(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process answers (no database round trip)."""
        return {"status": "ok"}

    @app.post("/v1/reports", status_code=201)
    async def post_report(
        request: Request,
        key_id: Annotated[str | None, Header(alias="Tutela-Key-Id")] = None,
        signature: Annotated[str | None, Header(alias="Tutela-Signature")] = None,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> JSONResponse:
        """Receive one signed report; a repeat with the same Idempotency-Key answers 200."""
        if not key_id or not signature:
            raise Unauthorized("a report must carry Tutela-Key-Id and Tutela-Signature")
        if not idempotency_key:
            raise InvalidInput("a report must carry an Idempotency-Key")
        body = await _body(request)
        receive = partial(
            receive_report, db, key_id, body, signature, idempotency_key, utc_now(), linker, keys
        )
        accepted = await anyio.to_thread.run_sync(receive, limiter=intake_threads)
        return JSONResponse(
            {"id": accepted.id, "status": accepted.status, "incident_id": accepted.incident_id},
            status_code=201 if accepted.created else 200,
        )

    @app.get("/v1/reports/{report_id}/status")
    async def get_status(
        request: Request,
        report_id: int,
        key_id: Annotated[str | None, Header(alias="Tutela-Key-Id")] = None,
        signature: Annotated[str | None, Header(alias="Tutela-Signature")] = None,
        timestamp: Annotated[str | None, Header(alias="Tutela-Timestamp")] = None,
    ) -> dict[str, object]:
        """Where one of the caller's reports stands; signed like a report, over
        `GET <path> <timestamp>`."""
        if not key_id or not signature or not timestamp:
            raise Unauthorized(
                "a status request must carry Tutela-Key-Id, Tutela-Timestamp, Tutela-Signature"
            )
        return await run_in_threadpool(
            report_status,
            db,
            key_id,
            signature,
            timestamp,
            request.url.path,
            report_id,
            utc_now(),
        )

    @app.get("/v1/indicators")
    async def get_indicators(
        request: Request,
        since: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 500,
        key_id: Annotated[str | None, Header(alias="Tutela-Key-Id")] = None,
        signature: Annotated[str | None, Header(alias="Tutela-Signature")] = None,
        timestamp: Annotated[str | None, Header(alias="Tutela-Timestamp")] = None,
    ) -> Response:
        """Feed entries after `since`, for registered providers only (signed like a status
        poll, over `GET <path>?<query> <timestamp>`); the page is signed with the centre's key
        in the Tutela-Signature header, over the exact body."""
        if not key_id or not signature or not timestamp:
            raise Unauthorized(
                "a feed request must carry Tutela-Key-Id, Tutela-Timestamp, Tutela-Signature"
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        page = await run_in_threadpool(
            signed_feed_page,
            db,
            centre_key(),
            (key_id, signature, timestamp, target),
            since,
            limit,
            utc_now(),
        )
        return Response(page.body, media_type="application/json", headers=page.headers)

    # The analysts' triage console (/ui): sign-in, the queue, reports and their assessment.
    install_centre_console(app, settings, db)
    return app


async def _body(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise InvalidInput("the report is larger than the centre accepts")
        chunks.append(chunk)
    return b"".join(chunks)
