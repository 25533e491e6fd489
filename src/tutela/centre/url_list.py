"""The Centre's list of URLs (Art 44(3)) and its signed feed. An analyst adds a URL with the
reason it is listed (`tutela centre url add URL --reason … --analyst NAME`), audited in the same
transaction; registered providers follow the list as `GET /v1/urls?since=N`, each page signed
with the Centre's key over its exact bytes, as the indicator feed is (`tutela.centre.feed`).
Authorities' blocking and delisting orders name its entries by their numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tutela.audit.log import Subject, record
from tutela.auth.actors import acting_account
from tutela.auth.roles import Permission
from tutela.centre.feed import SignedPage, SignedRequest
from tutela.centre.providers import MAX_SKEW, verify_signed_request
from tutela.centre.url_list_models import CentreUrl
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.errors import Conflict, InvalidInput
from tutela.messaging.canonical import canonical_json
from tutela.messaging.messages import KEY_ID_HEADER, SIGNATURE_HEADER
from tutela.messaging.signing import SigningKey
from tutela.orders.url_hosts import host_of

URL_FEED_PATH = "/v1/urls"
URL_FEED_SCHEMA = "tutela.urls/1"
MAX_PAGE = 1000
REASON_MAX = 5000
# Serialises additions on PostgreSQL, so commit order is number order and no follower skips one.
_URL_LOCK_KEY = 0x7475_726C


@dataclass(frozen=True, slots=True)
class ListedUrlView:
    id: int
    url: str
    host: str
    added_at: datetime


def add_url(
    database: Database, by: str, url: str, reason: str, *, clock: Clock | None = None
) -> ListedUrlView:
    """List one URL; `by` is a senior analyst's account (as for indicators, Art 44(3))."""
    url = url.strip()
    host = host_of(url).host
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX:
        raise InvalidInput(f"the reason is 1 to {REASON_MAX} characters")
    now = (clock or SystemClock()).now()
    with database.unit_of_work() as session:
        account = acting_account(session, by, Permission.CONFIRM_INDICATOR)
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _URL_LOCK_KEY})
        if session.scalar(select(CentreUrl.id).where(CentreUrl.url == url)) is not None:
            raise Conflict("that URL is on the list already")
        row = CentreUrl(url=url, host=host, reason=reason, added_by=account.actor, added_at=now)
        session.add(row)
        session.flush()
        record(
            session,
            account.actor,
            "centre_url_add",
            Subject("centre_url", str(row.id)),
            {"host": host},
            now=now,
        )
        return ListedUrlView(row.id, row.url, row.host, row.added_at)


def list_urls(database: Database) -> list[ListedUrlView]:
    with database.reader() as session:
        rows = session.scalars(select(CentreUrl).order_by(CentreUrl.id))
        return [ListedUrlView(r.id, r.url, r.host, r.added_at) for r in rows]


def url_page(session: Session, since: int, limit: int) -> dict[str, Any]:
    """Entries after `since`, oldest first; `next` is the cursor for the following page."""
    if since < 0 or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"since is 0 or more, limit 1 to {MAX_PAGE}")
    rows = list(
        session.scalars(
            select(CentreUrl).where(CentreUrl.id > since).order_by(CentreUrl.id).limit(limit + 1)
        )
    )
    items = [
        {"id": row.id, "url": row.url, "host": row.host, "added_at": row.added_at.isoformat()}
        for row in rows[:limit]
    ]
    return {
        "schema": URL_FEED_SCHEMA,
        "since": since,
        "items": items,
        "next": items[-1]["id"] if items else since,
        "more": len(rows) > limit,
    }


def signed_url_page(
    database: Database,
    key: SigningKey,
    request: SignedRequest,
    since: int,
    limit: int,
    now: datetime,
    max_skew: timedelta = MAX_SKEW,
) -> SignedPage:
    """A page of the list for a registered provider's signed request, signed with `key`."""
    key_id, signature, timestamp, target = request
    with database.reader() as session:
        verify_signed_request(session, key_id, signature, timestamp, "GET", target, now, max_skew)
        page = url_page(session, since, limit)
    body = canonical_json({**page, "signed_at": now.isoformat(), "key_id": key.key_id})
    return SignedPage(body, {KEY_ID_HEADER: key.key_id, SIGNATURE_HEADER: key.sign(body)})
