"""The provider's copy of the Centre's URL list (Art 44(3)), kept by following its signed feed
(`GET /v1/urls`): every page's signature is checked against the Centre's public key before any
entry is taken, entries are stored under the Centre's numbers, and the cursor is the highest
number held, so a crash between pages resumes at the next one. Blocking and delisting orders
may name only entries this copy holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select

from tutela.audit.log import SYSTEM, Subject, record
from tutela.db.database import Database
from tutela.errors import InvalidInput, InvalidSignature
from tutela.indicators.feed_subscription import FeedPage
from tutela.indicators.fetchers.checkpoints import FetchFailed
from tutela.messaging.canonical import parse_json
from tutela.messaging.signing import (
    SigningKey,
    key_id_of,
    request_signing_base,
    verify_signature,
)
from tutela.orders.access_models import ListedUrl
from tutela.orders.url_hosts import host_of

URL_FEED_PATH = "/v1/urls"
URL_FEED_SCHEMA = "tutela.urls/1"
PAGE = 500
MAX_PAGES_PER_RUN = 200


class UrlListClient(Protocol):
    def fetch(self, url: str, since: int, limit: int, now: datetime) -> FeedPage: ...


class HttpUrlListClient:
    """Fetches pages over HTTP, each request signed with this provider's report key."""

    def __init__(self, client: httpx.Client, key: SigningKey) -> None:
        self.client = client
        self.key = key

    def fetch(self, url: str, since: int, limit: int, now: datetime) -> FeedPage:
        target = f"{URL_FEED_PATH}?{urlencode({'since': since, 'limit': limit})}"
        timestamp = now.isoformat()
        headers = {
            "Tutela-Key-Id": self.key.key_id,
            "Tutela-Timestamp": timestamp,
            "Tutela-Signature": self.key.sign(request_signing_base("GET", target, timestamp)),
        }
        try:
            response = self.client.get(url.rstrip("/") + target, headers=headers)
        except httpx.HTTPError as error:
            raise FetchFailed(
                f"the centre's URL list is unreachable: {type(error).__name__}"
            ) from None
        if not response.is_success:
            raise FetchFailed(f"the centre's URL list answered {response.status_code}")
        return FeedPage(
            response.content,
            response.headers.get("Tutela-Key-Id", ""),
            response.headers.get("Tutela-Signature", ""),
        )


@dataclass
class UrlListReport:
    pages: int = 0
    added: int = 0


def follow_url_list(
    database: Database,
    client: UrlListClient,
    centre_url: str,
    centre_key: Ed25519PublicKey,
    now: datetime,
    *,
    actor: str = SYSTEM,
) -> UrlListReport:
    """Take every entry of the Centre's list after the highest one held."""
    expected = key_id_of(centre_key)
    with database.reader() as session:
        since = int(session.scalar(select(func.max(ListedUrl.centre_id))) or 0)
    report = UrlListReport()
    for _ in range(MAX_PAGES_PER_RUN):
        page = client.fetch(centre_url, since, PAGE, now)
        if page.key_id != expected:
            raise InvalidSignature(
                "the URL list page is signed with a key this node does not trust"
            )
        verify_signature(centre_key, page.body, page.signature)
        data = _checked(parse_json(page.body), since)
        entries = [_entry(item) for item in data["items"]]
        with database.unit_of_work() as session:
            for centre_id, url, host, added_at in entries:
                session.add(
                    ListedUrl(
                        centre_id=centre_id, url=url, host=host, added_at=added_at, fetched_at=now
                    )
                )
            if entries:
                record(
                    session,
                    actor,
                    "url_list_fetch",
                    Subject("url_list", str(data["next"])),
                    {"entries": len(entries)},
                    now=now,
                )
        report.pages += 1
        report.added += len(entries)
        since = int(data["next"])
        if not data.get("more"):
            break
    return report


def _checked(data: Any, since: int) -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("schema") != URL_FEED_SCHEMA:
        raise InvalidInput(f"the URL list page is not {URL_FEED_SCHEMA}")
    # A page for another cursor than asked could be an old page replayed.
    if data.get("since") != since or not isinstance(data.get("items"), list):
        raise InvalidInput("the URL list page does not answer the cursor asked for")
    if not isinstance(data.get("next"), int) or data["next"] < since:
        raise InvalidInput("the URL list page's next cursor goes backwards")
    return data


def _entry(item: Any) -> tuple[int, str, str, datetime]:
    if not isinstance(item, dict) or not isinstance(item.get("id"), int):
        raise InvalidInput("a URL list entry has a numeric id")
    url = str(item.get("url", ""))
    try:
        added_at = datetime.fromisoformat(str(item.get("added_at")))
    except ValueError:
        raise InvalidInput("a URL list entry has an ISO 8601 added_at") from None
    return int(item["id"]), url, host_of(url).host, added_at
