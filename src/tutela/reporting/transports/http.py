"""The one way transports speak HTTP: an httpx client (swap its transport for a MockTransport in
tests) and one rule for which answers are worth retrying."""

from __future__ import annotations

import httpx

from tutela.errors import PermanentDeliveryError, TransientDeliveryError

TIMEOUT_S = 30.0
# Answers that say "later", not "never".
RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


def open_client(timeout_s: float = TIMEOUT_S) -> httpx.Client:
    """A client that verifies TLS and never follows redirects (a redirect could leak a body)."""
    return httpx.Client(timeout=timeout_s, follow_redirects=False)


def send_request(client: httpx.Client, request: httpx.Request) -> httpx.Response:
    """Send one request; a failure on the way is transient, a refusal by the receiver permanent.

    Errors name the status or the exception class only: bodies may echo what was sent."""
    try:
        response = client.send(request)
    except httpx.HTTPError as error:
        raise TransientDeliveryError(
            f"{request.method} {request.url.path} failed: {type(error).__name__}"
        ) from None
    if response.is_success:
        return response
    where = f"{request.method} {request.url.path} answered {response.status_code}"
    if response.status_code in RETRYABLE:
        raise TransientDeliveryError(where)
    raise PermanentDeliveryError(where)
