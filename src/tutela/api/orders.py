"""Orders over HTTP. On the provider node: `POST /v1/orders` takes an authority's signed removal
order (authenticated by its Ed25519 signature against the keys `tutela authority-key add`
registered, not by an API key), and the platform answers per item, with an API key and only for
its own items: `POST /v1/orders/{order_id}/items/{item_id}/executed` or `…/impediment`
(Annex V); `POST /v1/orders/answers` takes the authority's signed answer to an impediment. The
centre node's own `POST /v1/orders`, which keeps the copy of every order, is in
tutela.api.centre_order_copies. The rules are in `tutela.orders`; the signed requests are taken
by the one dependency of tutela.api.signed_requests."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from tutela.api.deps import AUTH_KEY, ItemsWriteKey, ServicesDep, scope_doc
from tutela.api.signed_requests import SignedRequest, signed, stored
from tutela.audit.log import api_key_actor
from tutela.errors import ConfigurationError
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
# An authority's signed order, answer or copy of an order.
SignedDocument = Annotated[
    SignedRequest, Depends(signed("a signed document", max_bytes=MAX_BODY_BYTES))
]


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
async def post_order(services: ServicesDep, signed: SignedDocument) -> JSONResponse:
    """Take one signed removal order (201 with the receipt and deadline). A repeated delivery
    stores nothing and is answered as the first, marked `Idempotent-Replayed: true`."""
    settings = services.settings
    rules = OrderRules(
        SigningWindow.of(settings),
        deadline_of(settings),
        provider_name=settings.provider_name,
        services=settings.provider_services,
    )
    answer, created = await run_in_threadpool(
        receive_order,
        services.database,
        signed.key_id,
        signed.body,
        signed.signature,
        signed.received_at,
        rules,
    )
    if created and answer.get("kind") == OrderKind.DETECTION:
        services.intake.gate.invalidate()  # this process's uploads follow it at once
    if created and answer.get("kind") in (OrderKind.BLOCKING, OrderKind.DELISTING):
        # In force in the exports now: the signed execution report goes back at once (the
        # sender's timed step reports it otherwise, as after a crash here).
        try:
            await run_in_threadpool(
                report_access_orders,
                services.database,
                partial(provider_key, settings),
                services.clock,
            )
        except ConfigurationError as error:  # the order is taken; the report waits for the key
            log.error("no execution report for order %s: %s", answer.get("id"), error)
    return stored(answer, created)


@router.post("/v1/orders/answers", status_code=201, openapi_extra={AUTH_KEY: AUTHORITY_SIGNATURE})
async def post_impediment_answer(services: ServicesDep, signed: SignedDocument) -> JSONResponse:
    """Take the authority's signed answer to an impediment (201): a clarification restarts the
    order's clock for the impeded items from now (Art 14(5)-(6)) and asks their platforms
    again; a withdrawal closes the order. A repeat is answered as the first."""
    settings = services.settings
    rules = AnswerRules(SigningWindow.of(settings), deadline_of(settings))
    answer, created = await run_in_threadpool(
        receive_impediment_answer,
        services.database,
        signed.key_id,
        signed.body,
        signed.signature,
        signed.received_at,
        rules,
    )
    return stored(answer, created)


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
            clock=services.clock,
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
            clock=services.clock,
        )
    )
    return _public(answer)


def deadline_of(settings: Settings) -> timedelta:
    """Art 14(1): the time to remove, from receipt (TUTELA_REMOVAL_DEADLINE_HOURS)."""
    return timedelta(hours=settings.removal_deadline_hours)


def provider_key(settings: Settings) -> SigningKey:
    """The provider's key that signs its reports, and so its execution reports."""
    return load_key_file(default_key_file(settings))


def _public(answer: ItemAnswer) -> ItemAnswerPublic:
    return ItemAnswerPublic(
        order_id=answer.order_id,
        item_id=answer.item_id,
        state=answer.state,
        order_state=answer.order_state,
        executed_at=answer.executed_at.isoformat() if answer.executed_at else None,
    )
