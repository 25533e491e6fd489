"""The `dsa-tdb` transport: statements of reasons to the EU DSA Transparency Database (DSA Art
24(5)), through its API as documented at transparency.dsa.ec.europa.eu/page/api-documentation:
`POST /api/v1/statement` for one, `POST /api/v1/statements` for up to 100 at once, a Bearer token,
`201 Created` when stored.

Idempotent: every statement carries its own stable `puid`, and the database refuses a puid it
holds already with `422` (single: `errors.puid` and `existing.puid`; multiple: `errors.
existing_puids`, and then it stored none of the call). Such a statement was delivered by an
earlier try whose answer was lost: it counts as delivered, and the rest of the call is sent again.
Other refusals are permanent (the message fails and raises an alert); 408/429/5xx and network
failures are retried by the outbox with backoff."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from tutela.errors import ConfigurationError, PermanentDeliveryError
from tutela.messaging.retry import classify_exception, classify_response, raise_for
from tutela.messaging.transports import (
    OutgoingMessage,
    SendResult,
    Transport,
    TransportContext,
)

NAME = "dsa-tdb"
SINGLE_PATH = "/api/v1/statement"
MULTIPLE_PATH = "/api/v1/statements"
BATCH_MAX = 100
CREATED = 201
UNPROCESSABLE = 422


class DsaTdbTransport(Transport):
    name: ClassVar[str] = NAME

    def __init__(self, base_url: str, token: str, client: httpx.Client) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.client = client

    @classmethod
    def create(cls, context: TransportContext) -> DsaTdbTransport:
        settings = context.settings
        if not settings.dsa_tdb_url:
            raise ConfigurationError("TUTELA_DSA_TDB_URL is not set: no Transparency Database")
        if not settings.dsa_tdb_token:
            raise ConfigurationError("TUTELA_DSA_TDB_URL needs TUTELA_DSA_TDB_TOKEN")
        return cls(settings.dsa_tdb_url, settings.dsa_tdb_token, context.client)

    def send(self, message: OutgoingMessage) -> SendResult:
        pending = _statements_of(message)
        already: list[str] = []
        # Each round either stores the rest or learns of puids stored before and drops them:
        # the list shrinks every time, so this ends.
        while pending:
            response = self._post(pending)
            if response.status_code == CREATED:
                break
            held = _already_held(response, pending)
            if not held:
                _raise_for(response)
            already.extend(held)
            pending = [s for s in pending if s["puid"] not in held]
        sent = [str(s["puid"]) for s in pending]
        return SendResult(
            status="acknowledged", detail={"stored": sent, "already_held": sorted(already)}
        )

    def _post(self, statements: list[dict[str, Any]]) -> httpx.Response:
        single = len(statements) == 1
        url = self.base_url + (SINGLE_PATH if single else MULTIPLE_PATH)
        body: dict[str, Any] = statements[0] if single else {"statements": statements}
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        request = self.client.build_request("POST", url, json=body, headers=headers)
        try:
            return self.client.send(request)
        except httpx.HTTPError as error:
            raise_for(classify_exception(error), f"POST {request.url.path}")
            raise  # unreachable: a failure on the way is always retried


def _statements_of(message: OutgoingMessage) -> list[dict[str, Any]]:
    statements = message.payload.get("statements")
    if not isinstance(statements, list) or not 1 <= len(statements) <= BATCH_MAX:
        raise PermanentDeliveryError("the queued message is not a batch of 1-100 statements")
    if not all(isinstance(s, dict) and isinstance(s.get("puid"), str) for s in statements):
        raise PermanentDeliveryError("a queued statement has no puid")
    return [dict(s) for s in statements]


def _already_held(response: httpx.Response, pending: list[dict[str, Any]]) -> set[str]:
    """The puids of `pending` the database says it holds already (its 422 for a duplicate)."""
    if response.status_code != UNPROCESSABLE:
        return set()
    try:
        answer = response.json()
    except ValueError:
        return set()
    if not isinstance(answer, dict):
        return set()
    ours = {str(s["puid"]) for s in pending}
    errors = answer.get("errors")
    named: list[Any] = []
    if isinstance(errors, dict) and isinstance(errors.get("existing_puids"), list):
        named = list(errors["existing_puids"])  # the multiple endpoint
    existing = answer.get("existing")
    if isinstance(existing, dict) and "puid" in existing:
        named.append(existing["puid"])  # the single endpoint
    return {str(p) for p in named} & ours


def _raise_for(response: httpx.Response) -> None:
    """The status only: an answer's body may echo what was sent. Any answer but `201 Created`
    is not the database's "stored": another 2xx is refused for good too."""
    where = f"POST {response.request.url.path}"
    raise_for(classify_response(response), where)
    raise PermanentDeliveryError(f"{where} answered {response.status_code}")


def statement_transports(context: TransportContext) -> dict[str, Transport]:
    """The transport as a node's sender takes it: present when TUTELA_DSA_TDB_URL is set. Built
    here as well as registered by name, so that a node runs it before the package metadata that
    registers it was reinstalled."""
    if not context.settings.dsa_tdb_url:
        return {}
    return {NAME: DsaTdbTransport.create(context)}
