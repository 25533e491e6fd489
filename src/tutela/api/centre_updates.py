"""`POST /v1/report-updates` on the centre node: a provider's signed follow-up to a report it
sent (removal confirmed later, another organisation's case number, a retraction); the rules are
in `tutela.centre.updates`."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tutela.centre.providers import ProviderKeys
from tutela.centre.updates import receive_report_update
from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.errors import RequestTooLarge, Unauthorized
from tutela.messaging.signing import SigningWindow

PATH = "/v1/report-updates"
# A follow-up carries a few fields, never content.
MAX_BODY_BYTES = 64 * 1024


def install_report_updates(
    app: FastAPI, database: Database, keys: ProviderKeys, window: SigningWindow
) -> None:
    @app.post(PATH, status_code=201)
    async def post_report_update(
        request: Request,
        key_id: Annotated[str | None, Header(alias="Tutela-Key-Id")] = None,
        signature: Annotated[str | None, Header(alias="Tutela-Signature")] = None,
    ) -> JSONResponse:
        """Receive one signed follow-up to a report (201); a repeat answers 200 and changes
        nothing. Signed like a report; the body is a `tutela.message/1` of kind
        `report_update` (`removal`, `reported_elsewhere`) or `report_retraction` (`reason`)."""
        if not key_id or not signature:
            raise Unauthorized("a report update must carry Tutela-Key-Id and Tutela-Signature")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise RequestTooLarge(f"a report update is at most {MAX_BODY_BYTES} bytes")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise RequestTooLarge(f"a report update is at most {MAX_BODY_BYTES} bytes")
        accepted = await run_in_threadpool(
            receive_report_update, database, key_id, body, signature, utc_now(), keys, window
        )
        return JSONResponse(
            {"id": accepted.id, "report_id": accepted.report_id, "kind": accepted.kind},
            status_code=201 if accepted.created else 200,
        )
