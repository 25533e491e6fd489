"""`POST /v1/victim-requests` on the centre node: an authority's or hotline's signed request,
on a victim's behalf, to learn whether material matching the victim's hashes was reported,
forwarded and removed (Art 20-21); the rules are in `tutela.centre.victims`."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tutela.centre.linking import PdqLinker
from tutela.centre.victims import REQUESTS_PATH, answer_victim_request
from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.errors import InvalidInput, RequestTooLarge, Unauthorized
from tutela.messaging.signing import SigningWindow

PATH = REQUESTS_PATH
# Hashes only: a thousand of them fit in well under this.
MAX_BODY_BYTES = 256 * 1024
REPLAYED_HEADER = "Idempotent-Replayed"


def install_victim_requests(
    app: FastAPI, database: Database, linker: PdqLinker, window: SigningWindow
) -> None:
    @app.post(PATH, status_code=200)
    async def post_victim_request(
        request: Request,
        key_id: Annotated[str | None, Header(alias="Tutela-Key-Id")] = None,
        signature: Annotated[str | None, Header(alias="Tutela-Signature")] = None,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> JSONResponse:
        """Answer one signed request (a `tutela.message/1` of kind `victim_request`, payload
        `{"hashes": [{"signal_type", "value"}…], "ask_removal": bool}`) with the matching
        reports; a replay is answered as the first time, marked `Idempotent-Replayed: true`."""
        if not key_id or not signature:
            raise Unauthorized("a victim's request must carry Tutela-Key-Id and Tutela-Signature")
        if not idempotency_key:
            raise InvalidInput("a victim's request must carry an Idempotency-Key")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise RequestTooLarge(f"a victim's request is at most {MAX_BODY_BYTES} bytes")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise RequestTooLarge(f"a victim's request is at most {MAX_BODY_BYTES} bytes")
        answer = partial(
            answer_victim_request,
            database,
            key_id,
            body,
            signature,
            idempotency_key,
            utc_now(),
            linker=linker,
            window=window,
        )
        answered = await run_in_threadpool(answer)
        return JSONResponse(
            answered.answer, headers=None if answered.created else {REPLAYED_HEADER: "true"}
        )
