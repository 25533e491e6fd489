"""`POST /v1/centre-messages`: the EU Centre tells this provider what became of its reports and
which holds authorities asked for. Authenticated by the centre's Ed25519 signature against
TUTELA_CENTRE_PUBLIC_KEY_FILE, not by an API key: only the centre can send these."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from starlette.concurrency import run_in_threadpool

from tutela.api.deps import AUTH_KEY, CENTRE_SIGNATURE, ServicesDep
from tutela.db.database import Database
from tutela.db.types import utc_now
from tutela.errors import InvalidInput, Unauthorized, Unreadable
from tutela.reporting.centre_messages import apply_centre_message
from tutela.reporting.messages import open_message
from tutela.reporting.signing import load_public_key

router = APIRouter(prefix="/v1/centre-messages", tags=["centre"])
# Status messages and holds are small; a larger body is not from the centre.
MAX_BODY_BYTES = 256 * 1024


@router.post("", status_code=200, openapi_extra={AUTH_KEY: CENTRE_SIGNATURE})
async def receive_centre_message(
    request: Request,
    services: ServicesDep,
    key_id: Annotated[str | None, Header(alias="Tutela-Key-Id")] = None,
    signature: Annotated[str | None, Header(alias="Tutela-Signature")] = None,
) -> dict[str, Any]:
    """Apply one signed message from the centre; a redelivered message changes nothing."""
    if not key_id or not signature:
        raise Unauthorized("a centre message must carry Tutela-Key-Id and Tutela-Signature")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise InvalidInput("the message is larger than a centre message can be")
    settings = services.settings
    return await run_in_threadpool(
        _apply,
        services.database,
        settings.centre_public_key_file,
        settings.lea_hold_max_days,
        key_id,
        body,
        signature,
        utc_now(),
    )


def _apply(
    database: Database,
    key_file: Path | None,
    max_hold_days: int,
    key_id: str,
    body: bytes,
    signature: str,
    now: datetime,
) -> dict[str, Any]:
    if key_file is None:
        # Nothing can be verified, so nothing is accepted; the operator sets the key to enable it.
        raise Unauthorized(
            "this node accepts no centre messages: TUTELA_CENTRE_PUBLIC_KEY_FILE is not set"
        )
    try:
        pem = key_file.read_bytes()
    except OSError:
        raise Unreadable("cannot read TUTELA_CENTRE_PUBLIC_KEY_FILE") from None
    message = open_message(load_public_key(pem), key_id, body, signature)
    with database.unit_of_work() as session:
        return apply_centre_message(session, message, now, max_hold_days=max_hold_days)
