"""Every node's liveness, `/healthz` (unauthenticated, no database round trip): a module of its
own, so that the centre and the authority do not import the provider's readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter

liveness = APIRouter(tags=["health"])


@liveness.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive (no database round trip)."""
    return {"status": "ok"}
