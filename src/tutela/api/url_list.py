"""The Centre's URL list (Art 44(3)) over HTTP: `GET /v1/urls?since=N&limit=M`, for registered
providers only, signed like the indicator feed's requests; each page is signed with the Centre's
key. The rules are in `tutela.centre.url_list`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from tutela.centre.url_list import MAX_PAGE, URL_FEED_PATH, signed_url_page
from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.errors import Unauthorized
from tutela.messaging.signing import SigningKey, SigningWindow


def install_url_feed(
    app: FastAPI, database: Database, centre_key: Callable[[], SigningKey], window: SigningWindow
) -> None:
    @app.get(URL_FEED_PATH)
    async def get_urls(
        request: Request,
        since: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 500,
        key_id: Annotated[str | None, Header(alias="Tutela-Key-Id")] = None,
        signature: Annotated[str | None, Header(alias="Tutela-Signature")] = None,
        timestamp: Annotated[str | None, Header(alias="Tutela-Timestamp")] = None,
    ) -> Response:
        """Entries of the URL list after `since`, for registered providers (signed over
        `GET <path>?<query> <timestamp>`); the page is signed with the centre's key in the
        Tutela-Signature header, over the exact body."""
        if not key_id or not signature or not timestamp:
            raise Unauthorized(
                "a URL list request must carry Tutela-Key-Id, Tutela-Timestamp, Tutela-Signature"
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        page = await run_in_threadpool(
            signed_url_page,
            database,
            centre_key(),
            (key_id, signature, timestamp, target),
            since,
            limit,
            utc_now(),
            window.max_skew,
        )
        return Response(page.body, media_type="application/json", headers=page.headers)
