"""The centre node's composition root: `create_centre_app(settings, database)` with report intake
(`POST /v1/reports`) and the provider's status poll. Lives in `api` because domain packages
know nothing of HTTP (DESIGN layers); the rules are in `tutela.centre`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

import tutela
from tutela.api.problems import install_problem_handlers
from tutela.centre.intake import MAX_BODY_BYTES, receive_report
from tutela.centre.status import report_status
from tutela.db.database import Database, open_database
from tutela.db.types import utc_now
from tutela.errors import InvalidInput, Unauthorized
from tutela.settings import Settings


def create_centre_app(settings: Settings, database: Database | None = None) -> FastAPI:
    """A centre node app. A database passed in is the caller's to close."""
    owns_database = database is None
    db = database or open_database(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
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
        accepted = await run_in_threadpool(
            receive_report, db, key_id, body, signature, idempotency_key, utc_now()
        )
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

    return app


async def _body(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise InvalidInput("the report is larger than the centre accepts")
        chunks.append(chunk)
    return b"".join(chunks)
