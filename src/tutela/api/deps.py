"""What routes receive: the node's services and the caller's key, as `Annotated` aliases."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from tutela.auth.api_keys import ApiKeyView
from tutela.clock import Clock, SystemClock

if TYPE_CHECKING:
    # Annotations only: the centre's and the authority's apps use these dependencies too, and
    # need not import the provider's intake, hashing and matching to do so.
    from tutela.api.intake import Intake
    from tutela.api.metrics import NodeMetrics
    from tutela.auth.api_keys import ApiKeyCache
    from tutela.db.database import Database
    from tutela.detection.hashing_service import HashingService
    from tutela.indicators.matcher import Matcher
    from tutela.settings import Settings

SCOPE_KEY = "x-tutela-scope"
# OpenAPI extension naming a route's other way of authenticating, where it takes no API key.
AUTH_KEY = "x-tutela-auth"
CENTRE_SIGNATURE = "centre-signature"


@dataclass
class Services:
    """Everything the composition root wires for one app (see tutela.api.app.create_app)."""

    settings: Settings
    database: Database
    matcher: Matcher
    hashing: HashingService
    metrics: NodeMetrics
    intake: Intake
    keys: ApiKeyCache
    # The node's time (tutela.clock): receipts and deadlines of orders run by it (tests move it).
    clock: Clock = field(default_factory=SystemClock)


# Dependencies are `async def` on purpose: FastAPI runs a plain `def` dependency on a worker
# thread, one thread hand-off per dependency per request.
async def get_services(request: Request) -> Services:
    return services_of(request)


def services_of(request: Request) -> Services:
    """The app's services, for code that has the request (the upload route and the key check take
    them from it: each dependency FastAPI resolves costs time on every request)."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer tut_…`")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def require_scope(scope: str) -> Callable[..., Awaitable[ApiKeyView]]:
    async def check_key(request: Request, credentials: BearerDep) -> ApiKeyView:
        key = credentials.credentials if credentials is not None else None
        services = services_of(request)
        view = services.keys.cached(key, scope)
        if view is None:
            view = await run_in_threadpool(services.keys.authenticate, key, scope)
        return view

    return check_key


def scope_doc(scope: str) -> dict[str, Any]:
    """OpenAPI extension naming a route's scope (the auth test reads it from the route table)."""
    return {SCOPE_KEY: scope}


HashKey = Annotated[ApiKeyView, Depends(require_scope("hash"))]
MatchKey = Annotated[ApiKeyView, Depends(require_scope("match"))]
ItemsWriteKey = Annotated[ApiKeyView, Depends(require_scope("items:write"))]
ItemsReadKey = Annotated[ApiKeyView, Depends(require_scope("items:read"))]
WebhooksKey = Annotated[ApiKeyView, Depends(require_scope("webhooks"))]
