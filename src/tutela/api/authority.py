"""The authority node's HTTP API: `create_authority_app(settings, database)` takes the
providers' signed execution reports (`POST /v1/order-reports`, Annex VI) and the impediments they
file, as they file them (`POST /v1/order-impediments`, Annex V); `tutela.nodes.authority`
mounts the console (tutela.ui.authority_pages) on it. Orders leave through the outbox sender
that `tutela authority serve` runs beside it; the rules are in `tutela.authority`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

import tutela
from tutela.api.compliance_documents import install_compliance_intake
from tutela.api.deps import AUTH_KEY
from tutela.api.lifespan import node_lifespan
from tutela.api.liveness import liveness
from tutela.api.middleware import harden
from tutela.api.orders import MAX_BODY_BYTES
from tutela.api.problems import install_problem_handlers
from tutela.api.signed_requests import SignedRequest, signed, stored
from tutela.authority.impediments import receive_impediment
from tutela.authority.reports import receive_execution_report
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database, open_database
from tutela.messaging.signing import SigningWindow
from tutela.orders.impediment_notices import IMPEDIMENTS_PATH
from tutela.settings import Settings

# How the report route says it is authenticated: by the provider's signature.
PROVIDER_SIGNATURE = "provider-signature"
ExecutionReport = Annotated[SignedRequest, Depends(signed("a report", max_bytes=MAX_BODY_BYTES))]


def create_authority_app(
    settings: Settings,
    database: Database | None = None,
    *,
    owns: bool = False,
    clock: Clock | None = None,
) -> FastAPI:
    """An authority node's API. A database passed in is the caller's to close, unless `owns`.
    `clock` stamps what signed requests bring (the machine's by default; tests fix it)."""
    owns_database = database is None or owns
    db = database or open_database(settings)
    window = SigningWindow.of(settings)

    app = FastAPI(
        title="Tutela authority node",
        version=tutela.__version__,
        description="A Coordinating Authority: issues signed removal orders (Art 14) and "
        "receives the providers' execution reports.",
        lifespan=node_lifespan(db, owns_database=owns_database),
    )
    app.state.clock = clock or SystemClock()
    install_problem_handlers(app)
    harden(app, settings)

    app.include_router(liveness)

    @app.post(
        "/v1/order-reports",
        status_code=201,
        openapi_extra={AUTH_KEY: PROVIDER_SIGNATURE},
    )
    async def post_order_report(signed: ExecutionReport) -> JSONResponse:
        """Record a provider's signed execution report of one of this authority's orders (201);
        a repeat is answered as the first, marked `Idempotent-Replayed: true`."""
        answer, created = await run_in_threadpool(
            receive_execution_report,
            db,
            signed.key_id,
            signed.body,
            signed.signature,
            signed.received_at,
            window,
        )
        return stored(answer, created)

    @app.post(
        IMPEDIMENTS_PATH,
        status_code=201,
        openapi_extra={AUTH_KEY: PROVIDER_SIGNATURE},
    )
    async def post_order_impediment(signed: ExecutionReport) -> JSONResponse:
        """Keep an impediment a provider filed against one of this authority's orders (201), as
        it is filed; a repeat is answered as the first, marked `Idempotent-Replayed: true`."""
        answer, created = await run_in_threadpool(
            receive_impediment,
            db,
            signed.key_id,
            signed.body,
            signed.signature,
            signed.received_at,
            window,
        )
        return stored(answer, created)

    # Providers' signed Art 5 risk reports and yearly figures (tutela.authority.compliance).
    install_compliance_intake(app, db, window)
    return app
