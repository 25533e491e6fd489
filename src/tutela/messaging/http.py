"""The one way Tutela speaks HTTP to other nodes and platforms: an httpx client (swap its
transport for a MockTransport in tests) that verifies TLS, has timeouts, names itself, and never
follows a redirect (a redirect could carry a signed body to another host)."""

from __future__ import annotations

import httpx

from tutela import __version__
from tutela.messaging.retry import classify_exception, classify_response, raise_for

TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0
USER_AGENT = "tutela"


def open_client(
    timeout_s: float = TIMEOUT_S, *, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """A client for messages to other nodes and platforms."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, CONNECT_TIMEOUT_S)),
        follow_redirects=False,
        headers={"User-Agent": user_agent()},
        transport=transport,
    )


def user_agent() -> str:
    return f"{USER_AGENT}/{__version__}"


def send_request(client: httpx.Client, request: httpx.Request) -> httpx.Response:
    """Send one request and return a 2xx answer; otherwise raise TransientDeliveryError or
    PermanentDeliveryError as tutela.messaging.retry classifies it.

    Errors name the status or the exception class only: bodies may echo what was sent."""
    where = f"{request.method} {request.url.path}"
    try:
        response = client.send(request)
    except httpx.HTTPError as error:
        raise_for(classify_exception(error), where)
        raise  # unreachable: a failure on the way is always retried
    raise_for(classify_response(response), where)
    return response
