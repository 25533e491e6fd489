"""The authority node's intake of providers' compliance documents (`POST
/v1/compliance-documents`): a signed Art 5 risk report or set of yearly figures, authenticated by
the provider's signature alone; the rules are in `tutela.authority.compliance`."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tutela.api.deps import AUTH_KEY
from tutela.api.orders import REPLAYED_HEADER, signed_body
from tutela.authority.compliance import receive_compliance_document
from tutela.clock import utc_now
from tutela.compliance.documents import COMPLIANCE_PATH
from tutela.db.database import Database
from tutela.errors import Unauthorized
from tutela.messaging.signing import SigningWindow

# How the route says it is authenticated: by the provider's signature.
PROVIDER_SIGNATURE = "provider-signature"


def install_compliance_intake(app: FastAPI, database: Database, window: SigningWindow) -> None:
    @app.post(COMPLIANCE_PATH, status_code=201, openapi_extra={AUTH_KEY: PROVIDER_SIGNATURE})
    async def post_compliance_document(
        request: Request,
        key_id: Annotated[str | None, Header(alias="Tutela-Key-Id")] = None,
        signature: Annotated[str | None, Header(alias="Tutela-Signature")] = None,
    ) -> JSONResponse:
        """Store a provider's signed Art 5 risk report or yearly figures (201); a repeat is
        answered as the first, marked `Idempotent-Replayed: true`."""
        if not key_id or not signature:
            raise Unauthorized("a document must carry Tutela-Key-Id and Tutela-Signature")
        body = await signed_body(request)
        answer, created = await run_in_threadpool(
            receive_compliance_document, database, key_id, body, signature, utc_now(), window
        )
        return JSONResponse(
            answer, status_code=201, headers=None if created else {REPLAYED_HEADER: "true"}
        )
