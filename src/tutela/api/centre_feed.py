"""The centre's signed indicator feed (`GET /v1/indicators?since=N&limit=M`), for registered
providers only; the rules are in `tutela.centre.feed`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from tutela.api.centre_deps import CentreDep, FeedRequest
from tutela.centre.feed import signed_feed_page

router = APIRouter(tags=["indicators"])


@router.get("/v1/indicators")
async def get_indicators(
    centre: CentreDep,
    signed: FeedRequest,
    since: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> Response:
    """Feed entries after `since`, for registered providers only (signed like a status
    poll, over `GET <path>?<query> <timestamp>`); the page is signed with the centre's key
    in the Tutela-Signature header, over the exact body."""
    page = await run_in_threadpool(
        signed_feed_page,
        centre.database,
        centre.centre_key(),
        signed.poll,
        since,
        limit,
        signed.received_at,
        centre.window.max_skew,
    )
    return Response(page.body, media_type="application/json", headers=page.headers)
