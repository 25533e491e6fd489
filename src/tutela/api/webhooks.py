"""`/v1/webhooks`: endpoints that receive the verdicts on the key's platform's items, and the
record of deliveries to them; another platform's endpoints are 404, as missing ones."""

from __future__ import annotations

from fastapi import APIRouter, Response

from tutela.api.deps import ServicesDep, WebhooksKey, scope_doc
from tutela.api.schemas import DeliveryPublic, WebhookCreate, WebhookPublic
from tutela.detection import webhooks

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
SCOPE = scope_doc("webhooks")


@router.post("", status_code=201, response_model=WebhookPublic, openapi_extra=SCOPE)
def create_webhook(body: WebhookCreate, key: WebhooksKey, services: ServicesDep) -> WebhookPublic:
    """Register an endpoint of the key's platform; the signing secret is in this answer only.
    An address on this machine or a private network is refused unless the node allows it
    (TUTELA_WEBHOOK_ALLOW_PRIVATE)."""
    if not services.settings.webhook_allow_private:
        webhooks.refuse_private_target(body.url)
    view, secret = webhooks.register_webhook(
        services.database, body.url, body.secret, platform=key.platform
    )
    return WebhookPublic(id=view.id, url=view.url, created_at=view.created_at, secret=secret)


@router.get("", response_model=list[WebhookPublic], openapi_extra=SCOPE)
def list_webhooks(key: WebhooksKey, services: ServicesDep) -> list[WebhookPublic]:
    """The key's platform's endpoints."""
    return [
        WebhookPublic(id=v.id, url=v.url, created_at=v.created_at, secret=None)
        for v in webhooks.list_webhooks(services.database, platform=key.platform)
    ]


@router.delete("/{ident}", status_code=204, openapi_extra=SCOPE)
def delete_webhook(ident: int, key: WebhooksKey, services: ServicesDep) -> Response:
    """Stop delivering to the endpoint; its delivery history is kept."""
    webhooks.delete_webhook(services.database, ident, platform=key.platform)
    return Response(status_code=204)


@router.get("/{ident}/deliveries", response_model=list[DeliveryPublic], openapi_extra=SCOPE)
def list_deliveries(ident: int, key: WebhooksKey, services: ServicesDep) -> list[DeliveryPublic]:
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
        for a in webhooks.list_attempts(services.database, ident, platform=key.platform)
    ]
