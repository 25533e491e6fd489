"""The Centre's URL list (Art 44(3)) over HTTP: `GET /v1/urls?since=N&limit=M`, for registered
providers only, signed like the indicator feed's requests; each page is signed with the Centre's
key. The rules are in `tutela.centre.url_list`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from tutela.api.centre_deps import CentreDep, UrlListRequest
from tutela.centre.url_list import MAX_PAGE, URL_FEED_PATH, signed_url_page

router = APIRouter(tags=["url list"])


@router.get(URL_FEED_PATH)
async def get_urls(
    centre: CentreDep,
    signed: UrlListRequest,
    since: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 500,
) -> Response:
    """Entries of the URL list after `since`, for registered providers (signed over
    `GET <path>?<query> <timestamp>`); the page is signed with the centre's key in the
    Tutela-Signature header, over the exact body."""
    page = await run_in_threadpool(
        signed_url_page,
        centre.database,
        centre.centre_key(),
        signed.poll,
        since,
        limit,
        signed.received_at,
        centre.window.max_skew,
    )
    return Response(page.body, media_type="application/json", headers=page.headers)
