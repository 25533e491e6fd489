"""The authority node's HTTP API: `create_authority_app(settings, database)` takes the
providers' signed execution reports (`POST /v1/order-reports`, Annex VI); `tutela.nodes.authority`
mounts the console (tutela.ui.authority_pages) on it. Orders leave through the outbox sender
that `tutela authority serve` runs beside it; the rules are in `tutela.authority`."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

import tutela
from tutela.api.compliance_documents import install_compliance_intake
from tutela.api.deps import AUTH_KEY
from tutela.api.lifespan import node_lifespan
from tutela.api.middleware import harden
from tutela.api.orders import REPLAYED_HEADER, signed_body
from tutela.api.problems import install_problem_handlers
from tutela.authority.reports import receive_execution_report
from tutela.clock import utc_now
from tutela.db.database import Database, open_database
from tutela.errors import Unauthorized
from tutela.messaging.signing import SigningWindow
from tutela.settings import Settings

# How the report route says it is authenticated: by the provider's signature.
PROVIDER_SIGNATURE = "provider-signature"


def create_authority_app(
    settings: Settings, database: Database | None = None, *, owns: bool = False
) -> FastAPI:
    """An authority node's API. A database passed in is the caller's to close, unless `owns`."""
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
    install_problem_handlers(app)
    harden(app, settings)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process answers (no database round trip)."""
        return {"status": "ok"}

    @app.post(
        "/v1/order-reports",
        status_code=201,
        openapi_extra={AUTH_KEY: PROVIDER_SIGNATURE},
    )
    async def post_order_report(
        request: Request,
        key_id: Annotated[str | None, Header(alias="Tutela-Key-Id")] = None,
        signature: Annotated[str | None, Header(alias="Tutela-Signature")] = None,
    ) -> JSONResponse:
        """Record a provider's signed execution report of one of this authority's orders (201);
        a repeat is answered as the first, marked `Idempotent-Replayed: true`."""
        if not key_id or not signature:
            raise Unauthorized("a report must carry Tutela-Key-Id and Tutela-Signature")
        body = await signed_body(request)
        answer, created = await run_in_threadpool(
            receive_execution_report, db, key_id, body, signature, utc_now(), window
        )
        return JSONResponse(
            answer, status_code=201, headers=None if created else {REPLAYED_HEADER: "true"}
        )

    # Providers' signed Art 5 risk reports and yearly figures (tutela.authority.compliance).
    install_compliance_intake(app, db, window)
    return app
