"""The authority node's intake of providers' compliance documents (`POST
/v1/compliance-documents`): a signed Art 5 risk report or set of yearly figures, authenticated by
the provider's signature alone; the rules are in `tutela.authority.compliance`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tutela.api.deps import AUTH_KEY
from tutela.api.orders import MAX_BODY_BYTES
from tutela.api.signed_requests import SignedRequest, signed, stored
from tutela.authority.compliance import receive_compliance_document
from tutela.compliance.documents import COMPLIANCE_PATH
from tutela.db.database import Database
from tutela.messaging.signing import SigningWindow

# How the route says it is authenticated: by the provider's signature.
PROVIDER_SIGNATURE = "provider-signature"
# A risk report or a year's figures: no larger than an order may be.
SignedDocument = Annotated[SignedRequest, Depends(signed("a document", max_bytes=MAX_BODY_BYTES))]


def install_compliance_intake(app: FastAPI, database: Database, window: SigningWindow) -> None:
    @app.post(COMPLIANCE_PATH, status_code=201, openapi_extra={AUTH_KEY: PROVIDER_SIGNATURE})
    async def post_compliance_document(signed: SignedDocument) -> JSONResponse:
        """Store a provider's signed Art 5 risk report or yearly figures (201); a repeat is
        answered as the first, marked `Idempotent-Replayed: true`."""
        answer, created = await run_in_threadpool(
            receive_compliance_document,
            database,
            signed.key_id,
            signed.body,
            signed.signature,
            signed.received_at,
            window,
        )
        return stored(answer, created)
