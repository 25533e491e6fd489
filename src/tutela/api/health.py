"""Liveness and readiness (unauthenticated) and metrics (an API key with the `metrics` scope, as
a Prometheus scraper sends it: `authorization: {credentials: KEY}`); no content, no personal
data."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from sqlalchemy import text

from tutela.api.deps import ServicesDep, require_scope, scope_doc
from tutela.api.liveness import liveness
from tutela.api.metrics import CONTENT_TYPE
from tutela.api.problems import problem
from tutela.db.schema import current_revision, head_revision

router = APIRouter(tags=["health"])
# Every node's liveness (the centre and the authority have no readiness of their own yet).
router.include_router(liveness)


@router.get("/readyz", response_model=None)
def readyz(services: ServicesDep) -> dict[str, object] | Response:
    """The database answers, its schema is at head, the matcher is loaded and the hashing pool
    works (a broken one, which could not start a hashing process again, takes the node out of
    rotation: uploads would still be accepted, queued, but `/v1/hash` and `/v1/match` fail)."""
    try:
        with services.database.reader() as session:
            session.execute(text("SELECT 1"))
        revision = current_revision(services.database.engine)
    except Exception as error:  # any failure to reach the database means not ready
        return problem(503, "not_ready", f"database unreachable ({type(error).__name__})")
    if revision != head_revision():
        return problem(503, "not_ready", f"database at {revision}, code expects {head_revision()}")
    if not services.hashing.working:
        return problem(503, "not_ready", "the hashing processes could not be started again")
    return {"status": "ready", "revision": revision, "indicators": len(services.matcher)}


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(require_scope("metrics"))],
    openapi_extra=scope_doc("metrics"),
)
def metrics(services: ServicesDep) -> Response:
    """Prometheus text exposition, for a key with the `metrics` scope (`Authorization: Bearer`):
    queue depths and alert counts are an operator's business, not the public's."""
    return Response(services.metrics.render(), media_type=CONTENT_TYPE)
