"""`POST /v1/centre-messages`: the EU Centre tells this provider what became of its reports and
which holds authorities asked for. Authenticated by the centre's Ed25519 signature against
TUTELA_CENTRE_PUBLIC_KEY_FILE, not by an API key: only the centre can send these. The request is
taken by the one signed-request dependency (tutela.api.signed_requests)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from tutela.api.deps import AUTH_KEY, CENTRE_SIGNATURE, ServicesDep
from tutela.api.signed_requests import SignedRequest, signed
from tutela.enforcement import received_messages
from tutela.errors import Unauthorized, Unreadable
from tutela.messaging.signing import SigningWindow, load_public_key

router = APIRouter(prefix="/v1/centre-messages", tags=["centre"])
# Status messages and holds are small; a larger body is not from the centre.
MAX_BODY_BYTES = 256 * 1024
CentreMessage = Annotated[
    SignedRequest, Depends(signed("a centre message", max_bytes=MAX_BODY_BYTES))
]


@router.post("", status_code=200, openapi_extra={AUTH_KEY: CENTRE_SIGNATURE})
async def receive_centre_message(services: ServicesDep, signed: CentreMessage) -> dict[str, Any]:
    """Apply one signed message from the centre. A redelivered or replayed message changes
    nothing and is answered as the first time; one signed outside the window is refused."""
    settings = services.settings
    centre_key = await run_in_threadpool(_centre_key, settings.centre_public_key_file)
    return await run_in_threadpool(
        partial(
            received_messages.receive_centre_message,
            services.database,
            centre_key,
            signed.key_id,
            signed.body,
            signed.signature,
            signed.received_at,
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
