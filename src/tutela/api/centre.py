"""The centre node's HTTP API: `create_centre_app(settings, database)` with report intake
(`POST /v1/reports`), the provider's status poll and the signed indicator feed
(`GET /v1/indicators`); the rules are in `tutela.centre`. The node itself (this API and the
analysts' console) is assembled in `tutela.nodes.centre`.

`tutela centre serve --workers N` runs N processes, each built by
`tutela.nodes.centre.centre_app_from_env`; they share nothing but the database, which is all
intake and linking rely on (see `tutela.centre.linking`)."""

from __future__ import annotations

from functools import partial
from typing import Annotated

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

import tutela
from tutela.api.centre_metrics import install_centre_metrics
from tutela.api.centre_updates import install_report_updates
from tutela.api.lifespan import node_lifespan
from tutela.api.middleware import harden
from tutela.api.orders import install_order_copies
from tutela.api.problems import install_problem_handlers
from tutela.api.url_list import install_url_feed
from tutela.api.victims import install_victim_requests
from tutela.centre.feed import signed_feed_page
from tutela.centre.intake import receive_report
from tutela.centre.keys import load_centre_key
from tutela.centre.linking import PdqLinker
from tutela.centre.providers import ProviderKeys
from tutela.centre.status import report_status
from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.db.engine import create_engine_from
from tutela.errors import InvalidInput, RequestTooLarge, Unauthorized
from tutela.messaging.signing import SigningKey, SigningWindow
from tutela.settings import Settings

# Intakes one process runs at once. More would only queue on PostgreSQL's commits and the GIL;
# fewer leaves the database idle while a thread parses or verifies. The pool holds one
# connection per intake thread plus a few for status polls and the feed, so that no intake
# opens and closes a connection of its own.
INTAKE_THREADS = 8
POOL_SIZE = INTAKE_THREADS + 4
# Marks the answer to a repeated report (the IETF Idempotency-Key draft's practice).
REPLAYED_HEADER = "Idempotent-Replayed"


def open_centre_database(settings: Settings, *, migrate: bool = True) -> Database:
    """The centre's database, with a connection pool sized for its intake threads."""
    database = Database(create_engine_from(settings, pool_size=POOL_SIZE, max_overflow=8))
    if migrate:
        database.upgrade()
    return database


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
    window = SigningWindow.of(settings)
    intake_threads = CapacityLimiter(INTAKE_THREADS)
    centre_keys: list[SigningKey] = [key] if key is not None else []

    def centre_key() -> SigningKey:
        if not centre_keys:
            centre_keys.append(load_centre_key(settings))
        return centre_keys[0]

    app = FastAPI(
        title="Tutela centre node",
        version=tutela.__version__,
        description="EU Centre: receives signed reports, triages and forwards them (Art 46-48).",
        lifespan=node_lifespan(db, owns_database=owns_database, warm=[linker.warm]),
    )
    install_problem_handlers(app)
    harden(app, settings)  # body deadline, security headers, no bare 500 (tutela.api.middleware)

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
        """Receive one signed report (201). A repeat — the same Idempotency-Key, or the same
        signed report under another key — stores nothing and is answered as the first time
        (201, the same body), marked `Idempotent-Replayed: true`."""
        if not key_id or not signature:
            raise Unauthorized("a report must carry Tutela-Key-Id and Tutela-Signature")
        if not idempotency_key:
            raise InvalidInput("a report must carry an Idempotency-Key")
        if not keys.cached(key_id):
            # Nothing is read for a key no registered provider holds.
            known = partial(keys.load, db, key_id)
            await anyio.to_thread.run_sync(known, limiter=intake_threads)
        body = await _body(request, settings.centre_max_report_bytes)
        receive = partial(
            receive_report,
            db,
            key_id,
            body,
            signature,
            idempotency_key,
            utc_now(),
            linker,
            keys,
            window,
        )
        accepted = await anyio.to_thread.run_sync(receive, limiter=intake_threads)
        return JSONResponse(
            {"id": accepted.id, "status": accepted.status, "incident_id": accepted.incident_id},
            status_code=201,
            headers=None if accepted.created else {REPLAYED_HEADER: "true"},
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
            window.max_skew,
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
            window.max_skew,
        )
        return Response(page.body, media_type="application/json", headers=page.headers)

    # Providers' signed follow-ups to their reports: removal, case numbers, retractions.
    install_report_updates(app, db, keys, window)
    # Copies of the authorities' orders (tutela.centre.order_copies).
    install_order_copies(app, db, window)
    # Victims' requests through authorities and hotlines (tutela.centre.victims, Art 20-21).
    install_victim_requests(app, db, linker, window)
    # The URL list for blocking and delisting orders (tutela.centre.url_list).
    install_url_feed(app, db, centre_key, window)
    # The Art 83(3) figures as Prometheus gauges, for a key with the `metrics` scope.
    install_centre_metrics(app, db)
    return app


async def _body(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it passes `limit`: a declared length over it is
    refused before a byte is read, and a body that streams past it is not read further."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(f"the report is over the centre's limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(f"the report is over the centre's limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
