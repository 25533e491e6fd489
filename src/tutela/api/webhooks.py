"""`/v1/webhooks`: endpoints that receive every verdict, and the record of deliveries to them."""

from __future__ import annotations

from fastapi import APIRouter, Response

from tutela.api.deps import ServicesDep, WebhooksKey, scope_doc
from tutela.api.schemas import DeliveryPublic, WebhookCreate, WebhookPublic
from tutela.detection import webhooks

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
SCOPE = scope_doc("webhooks")


@router.post("", status_code=201, response_model=WebhookPublic, openapi_extra=SCOPE)
def create_webhook(body: WebhookCreate, _key: WebhooksKey, services: ServicesDep) -> WebhookPublic:
    """Register an endpoint; the signing secret is in this answer only."""
    view, secret = webhooks.register_webhook(services.database, body.url, body.secret)
    return WebhookPublic(id=view.id, url=view.url, created_at=view.created_at, secret=secret)


@router.get("", response_model=list[WebhookPublic], openapi_extra=SCOPE)
def list_webhooks(_key: WebhooksKey, services: ServicesDep) -> list[WebhookPublic]:
    return [
        WebhookPublic(id=v.id, url=v.url, created_at=v.created_at, secret=None)
        for v in webhooks.list_webhooks(services.database)
    ]


@router.delete("/{ident}", status_code=204, openapi_extra=SCOPE)
def delete_webhook(ident: int, _key: WebhooksKey, services: ServicesDep) -> Response:
    webhooks.delete_webhook(services.database, ident)
    return Response(status_code=204)


@router.get("/{ident}/deliveries", response_model=list[DeliveryPublic], openapi_extra=SCOPE)
def list_deliveries(ident: int, _key: WebhooksKey, services: ServicesDep) -> list[DeliveryPublic]:
    """Every attempt to deliver to this endpoint, newest first: status code, error, time."""
    return [
        DeliveryPublic(
            delivery_id=a.delivery_id,
            item_id=a.item_id,
            state=a.state,
            status_code=a.status_code,
            error=a.error,
            at=a.at,
        )
        for a in webhooks.list_attempts(services.database, ident)
    ]
