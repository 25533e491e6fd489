"""The centre node's `POST /v1/orders`: the copy of every order an authority issues, signed by
that authority like the order itself, and `POST /v1/orders/answers`: the copy of its answers to
impediments (tutela.centre.order_copies)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tutela.api.centre_deps import CentreDep
from tutela.api.deps import AUTH_KEY
from tutela.api.orders import AUTHORITY_SIGNATURE, SignedDocument
from tutela.api.signed_requests import stored
from tutela.centre.order_copies import receive_answer_copy, receive_order_copy

router = APIRouter(tags=["orders"])


@router.post("/v1/orders", status_code=201, openapi_extra={AUTH_KEY: AUTHORITY_SIGNATURE})
async def post_order_copy(centre: CentreDep, signed: SignedDocument) -> JSONResponse:
    """Keep the copy of one signed order (201); a repeat is answered as the first."""
    answer, created = await run_in_threadpool(
        receive_order_copy,
        centre.database,
        signed.key_id,
        signed.body,
        signed.signature,
        signed.received_at,
        centre.window,
    )
    return stored(answer, created)


@router.post("/v1/orders/answers", status_code=201, openapi_extra={AUTH_KEY: AUTHORITY_SIGNATURE})
async def post_answer_copy(centre: CentreDep, signed: SignedDocument) -> JSONResponse:
    """Keep the copy of an authority's signed answer to an impediment (201); a repeat is
    answered as the first."""
    answer, created = await run_in_threadpool(
        receive_answer_copy,
        centre.database,
        signed.key_id,
        signed.body,
        signed.signature,
        signed.received_at,
        centre.window,
    )
    return stored(answer, created)
