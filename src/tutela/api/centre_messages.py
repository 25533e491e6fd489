"""`POST /v1/centre-messages`: the EU Centre tells this provider what became of its reports and
which holds authorities asked for. Authenticated by the centre's Ed25519 signature against
TUTELA_CENTRE_PUBLIC_KEY_FILE, not by an API key: only the centre can send these."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import APIRouter, Header, Request
from starlette.concurrency import run_in_threadpool

from tutela.api.deps import AUTH_KEY, CENTRE_SIGNATURE, ServicesDep
from tutela.clock import utc_now
from tutela.enforcement import received_messages
from tutela.errors import RequestTooLarge, Unauthorized, Unreadable
from tutela.messaging.signing import SigningWindow, load_public_key

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
    """Apply one signed message from the centre. A redelivered or replayed message changes
    nothing and is answered as the first time; one signed outside the window is refused."""
    if not key_id or not signature:
        raise Unauthorized("a centre message must carry Tutela-Key-Id and Tutela-Signature")
    settings = services.settings
    centre_key = await run_in_threadpool(_centre_key, settings.centre_public_key_file)
    body = await _body(request)
    return await run_in_threadpool(
        partial(
            received_messages.receive_centre_message,
            services.database,
            centre_key,
            key_id,
            body,
            signature,
            utc_now(),
            window=SigningWindow.of(settings),
            max_hold_days=settings.lea_hold_max_days,
        )
    )


def _centre_key(key_file: Path | None) -> Ed25519PublicKey:
    if key_file is None:
        # Nothing can be verified, so nothing is accepted; the operator sets the key to enable it.
        raise Unauthorized(
            "this node accepts no centre messages: TUTELA_CENTRE_PUBLIC_KEY_FILE is not set"
        )
    try:
        pem = key_file.read_bytes()
    except OSError:
        raise Unreadable("cannot read TUTELA_CENTRE_PUBLIC_KEY_FILE") from None
    return load_public_key(pem)


async def _body(request: Request) -> bytes:
    """The body, refused as soon as it passes what a centre message can be, never buffered
    beyond that (the signature can only be checked once it is whole)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise RequestTooLarge("the message is larger than a centre message can be")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestTooLarge("the message is larger than a centre message can be")
        chunks.append(chunk)
    return b"".join(chunks)
