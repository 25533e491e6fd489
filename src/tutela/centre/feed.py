"""Serving the indicator feed (Art 46): a registered provider's signed request in, a page signed
with the centre's key out, so a subscriber trusts the page however it travelled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tutela.centre.indicators import feed_page
from tutela.centre.providers import MAX_SKEW, verify_signed_request
from tutela.db.database import Database
from tutela.messaging.canonical import canonical_json
from tutela.messaging.messages import KEY_ID_HEADER, SIGNATURE_HEADER
from tutela.messaging.signing import SigningKey

# (key id, signature, timestamp, "path?query") of the provider's request.
SignedRequest = tuple[str, str, str, str]


@dataclass(frozen=True, slots=True)
class SignedPage:
    body: bytes
    headers: dict[str, str]


def signed_feed_page(
    database: Database,
    key: SigningKey,
    request: SignedRequest,
    since: int,
    limit: int,
    now: datetime,
    max_skew: timedelta = MAX_SKEW,
) -> SignedPage:
    key_id, signature, timestamp, target = request
    with database.reader() as session:
        verify_signed_request(session, key_id, signature, timestamp, "GET", target, now, max_skew)
        page = feed_page(session, since, limit)
    body = canonical_json({**page, "signed_at": now.isoformat(), "key_id": key.key_id})
    return SignedPage(body, {KEY_ID_HEADER: key.key_id, SIGNATURE_HEADER: key.sign(body)})
