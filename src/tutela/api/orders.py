"""Orders over HTTP. On the provider node: `POST /v1/orders` takes an authority's signed removal
order (authenticated by its Ed25519 signature against the keys `tutela authority-key add`
registered, not by an API key), and the platform answers per item, with an API key and only for
its own items: `POST /v1/orders/{order_id}/items/{item_id}/executed` or `…/impediment`
(Annex V); `POST /v1/orders/answers` takes the authority's signed answer to an impediment. On the
centre node, `install_order_copies` adds its own `POST /v1/orders`, which keeps the copy of every
order. The rules are in `tutela.orders` and `tutela.centre.order_copies`."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from tutela.api.deps import AUTH_KEY, ItemsWriteKey, ServicesDep, scope_doc
from tutela.audit.log import api_key_actor
from tutela.centre.order_copies import receive_order_copy
from tutela.db.database import Database
from tutela.db.types import utc_now
from tutela.errors import ConfigurationError, RequestTooLarge, Unauthorized
from tutela.messaging.signing import SigningKey, SigningWindow, default_key_file, load_key_file
from tutela.orders.access_reports import report_access_orders
from tutela.orders.execution import ItemAnswer, confirm_executed, file_impediment
from tutela.orders.impediment_answers import AnswerRules, receive_impediment_answer
from tutela.orders.receiving import OrderRules, receive_order
from tutela.orders.states import ItemState, OrderKind
from tutela.settings import Settings

log = logging.getLogger("tutela.orders")
router = APIRouter(tags=["orders"])
# How a route says it is authenticated by an authority's signature (tests read the route table).
AUTHORITY_SIGNATURE = "authority-signature"
# An order names at most a thousand items; a larger body is not an order.
MAX_BODY_BYTES = 1024 * 1024
# Marks the answer to a repeated delivery (as the centre's intake does).
REPLAYED_HEADER = "Idempotent-Replayed"


class ExecutedCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str = Field(
        ItemState.REMOVED,
        pattern="^(removed|disabled)$",
        description="Removed, or access disabled in all Member States (Art 14(1)).",
    )
    executed_at: AwareDatetime | None = Field(None, description="When; default now.")


class ImpedimentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        pattern="^(force_majeure|de_facto_impossibility|manifest_error|insufficient_information)$",
        description="Annex V: why the item cannot be removed.",
    )
    explanation: str = Field(min_length=1, max_length=5000)


class ItemAnswerPublic(BaseModel):
    order_id: int
    item_id: int
    state: str
    order_state: str
    executed_at: str | None


@router.post("/v1/orders", status_code=201, openapi_extra={AUTH_KEY: AUTHORITY_SIGNATURE})
async def post_order(
    request: Request,
    services: ServicesDep,
    key_id: Annotated[str | None, Header(alias="Tutela-Key-Id")] = None,
    signature: Annotated[str | None, Header(alias="Tutela-Signature")] = None,
) -> JSONResponse:
    """Take one signed removal order (201 with the receipt and deadline). A repeated delivery
    stores nothing and is answered as the first, marked `Idempotent-Replayed: true`."""
    key_id, signature = _signed(key_id, signature)
    body = await signed_body(request)
    settings = services.settings
    rules = OrderRules(
        SigningWindow.of(settings),
        deadline_of(settings),
        provider_name=settings.provider_name,
        services=settings.provider_services,
    )
    answer, created = await run_in_threadpool(
        receive_order, services.database, key_id, body, signature, utc_now(), rules
    )
    if created and answer.get("kind") == OrderKind.DETECTION:
        services.intake.gate.invalidate()  # this process's uploads follow it at once
    if created and answer.get("kind") in (OrderKind.BLOCKING, OrderKind.DELISTING):
        # In force in the exports now: the signed execution report goes back at once (the
        # sender's timed step reports it otherwise, as after a crash here).
        try:
            await run_in_threadpool(
                report_access_orders, services.database, partial(provider_key, settings)
            )
        except ConfigurationError as error:  # the order is taken; the report waits for the key
            log.error("no execution report for order %s: %s", answer.get("id"), error)
    return _created(answer, created)


@router.post("/v1/orders/answers", status_code=201, openapi_extra={AUTH_KEY: AUTHORITY_SIGNATURE})
async def post_impediment_answer(
    request: Request,
    services: ServicesDep,
    key_id: Annotated[str | None, Header(alias="Tutela-Key-Id")] = None,
    signature: Annotated[str | None, Header(alias="Tutela-Signature")] = None,
) -> JSONResponse:
    """Take the authority's signed answer to an impediment (201): a clarification restarts the
    order's clock for the impeded items from now (Art 14(5)-(6)) and asks their platforms
    again; a withdrawal closes the order. A repeat is answered as the first."""
    key_id, signature = _signed(key_id, signature)
    body = await signed_body(request)
    settings = services.settings
    rules = AnswerRules(SigningWindow.of(settings), deadline_of(settings))
    answer, created = await run_in_threadpool(
        receive_impediment_answer, services.database, key_id, body, signature, utc_now(), rules
    )
    return _created(answer, created)


@router.post(
    "/v1/orders/{order_id}/items/{item_id}/executed",
    response_model=ItemAnswerPublic,
    openapi_extra=scope_doc("items:write"),
)
async def post_item_executed(
    order_id: int, item_id: int, body: ExecutedCreate, key: ItemsWriteKey, services: ServicesDep
) -> ItemAnswerPublic:
    """The platform removed or disabled one ordered item (idempotent). When it was the last
    item to settle, the signed execution report (Annex VI) is queued for the authority."""
    answer = await run_in_threadpool(
        partial(
            confirm_executed,
            services.database,
            order_id,
            item_id,
            api_key_actor(key.name),
            provider_key(services.settings),
            platform=key.platform,
            action=body.action,
            executed_at=body.executed_at,
        )
    )
    return _public(answer)


@router.post(
    "/v1/orders/{order_id}/items/{item_id}/impediment",
    response_model=ItemAnswerPublic,
    openapi_extra=scope_doc("items:write"),
)
async def post_item_impediment(
    order_id: int, item_id: int, body: ImpedimentCreate, key: ItemsWriteKey, services: ServicesDep
) -> ItemAnswerPublic:
    """The platform cannot remove one ordered item, for a reason of Annex V: the item leaves the
    24-hour clock (Art 14(5)-(6)) and the execution report names the impediment."""
    answer = await run_in_threadpool(
        partial(
            file_impediment,
            services.database,
            order_id,
            item_id,
            api_key_actor(key.name),
            provider_key(services.settings),
            platform=key.platform,
            reason=body.reason,
            explanation=body.explanation,
        )
    )
    return _public(answer)


def install_order_copies(app: FastAPI, database: Database, window: SigningWindow) -> None:
    """The centre node's `POST /v1/orders`: the copy of every order (tutela.centre.order_copies)."""

    @app.post("/v1/orders", status_code=201, openapi_extra={AUTH_KEY: AUTHORITY_SIGNATURE})
    async def post_order_copy(
        request: Request,
        key_id: Annotated[str | None, Header(alias="Tutela-Key-Id")] = None,
        signature: Annotated[str | None, Header(alias="Tutela-Signature")] = None,
    ) -> JSONResponse:
        """Keep the copy of one signed order (201); a repeat is answered as the first."""
        key, signed = _signed(key_id, signature)
        body = await signed_body(request)
        answer, created = await run_in_threadpool(
            receive_order_copy, database, key, body, signed, utc_now(), window
        )
        return _created(answer, created)


def deadline_of(settings: Settings) -> timedelta:
    """Art 14(1): the time to remove, from receipt (TUTELA_REMOVAL_DEADLINE_HOURS)."""
    return timedelta(hours=settings.removal_deadline_hours)


def provider_key(settings: Settings) -> SigningKey:
    """The provider's key that signs its reports, and so its execution reports."""
    return load_key_file(default_key_file(settings))


async def signed_body(request: Request) -> bytes:
    """The body, refused as soon as it passes what an order can be."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise RequestTooLarge("the body is larger than an order can be")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestTooLarge("the body is larger than an order can be")
        chunks.append(chunk)
    return b"".join(chunks)


def _signed(key_id: str | None, signature: str | None) -> tuple[str, str]:
    if not key_id or not signature:
        raise Unauthorized("a signed document must carry Tutela-Key-Id and Tutela-Signature")
    return key_id, signature


def _created(answer: dict[str, Any], created: bool) -> JSONResponse:
    return JSONResponse(
        answer, status_code=201, headers=None if created else {REPLAYED_HEADER: "true"}
    )


def _public(answer: ItemAnswer) -> ItemAnswerPublic:
    return ItemAnswerPublic(
        order_id=answer.order_id,
        item_id=answer.item_id,
        state=answer.state,
        order_state=answer.order_state,
        executed_at=answer.executed_at.isoformat() if answer.executed_at else None,
    )
