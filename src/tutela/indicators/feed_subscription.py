"""A bank that follows the EU Centre's signed indicator feed and so keeps itself current.

`subscribe_bank` makes a verified bank and records where its feed is and the centre's public
key; `follow_feed` fetches pages after the checkpoint, verifies each page's signature, applies
adds and removes through the ledger (so matchers pick them up by the change sequence) and moves
the checkpoint in the same transaction as the page, so a crash resumes at the next page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
from sqlalchemy import select

from tutela.audit.log import SYSTEM
from tutela.db.database import Database
from tutela.errors import InvalidInput, InvalidSignature, NotFound
from tutela.indicators.bank_audit import BankAction, record_bank_change, record_fetched_page
from tutela.indicators.banks import bank_by_name, create_bank
from tutela.indicators.fetchers.checkpoints import (
    FetchFailed,
    FetchReport,
    load_checkpoint,
    save_checkpoint,
)
from tutela.indicators.ledger import delete_values, insert_indicators
from tutela.indicators.models import Bank, FetchCheckpoint
from tutela.indicators.variants import check_variants, store_variants
from tutela.messaging.canonical import parse_json
from tutela.messaging.signing import (
    SigningKey,
    key_id_of,
    load_public_key,
    request_signing_base,
    verify_signature,
)
from tutela.signals.registry import get_signal_type

EXCHANGE = "centre-feed"
FEED_PATH = "/v1/indicators"
FEED_SCHEMA = "tutela.indicators/1"
PAGE = 500
MAX_PAGES_PER_RUN = 200


@dataclass(frozen=True, slots=True)
class FeedPage:
    body: bytes
    key_id: str
    signature: str


class FeedClient(Protocol):
    def fetch(self, url: str, since: int, limit: int, now: datetime) -> FeedPage: ...


class HttpFeedClient:
    """Fetches pages over HTTP, each request signed with this provider's report key."""

    def __init__(self, client: httpx.Client, key: SigningKey) -> None:
        self.client = client
        self.key = key

    def fetch(self, url: str, since: int, limit: int, now: datetime) -> FeedPage:
        target = f"{FEED_PATH}?{urlencode({'since': since, 'limit': limit})}"
        timestamp = now.isoformat()
        headers = {
            "Tutela-Key-Id": self.key.key_id,
            "Tutela-Timestamp": timestamp,
            "Tutela-Signature": self.key.sign(request_signing_base("GET", target, timestamp)),
        }
        try:
            response = self.client.get(url.rstrip("/") + target, headers=headers)
        except httpx.HTTPError as error:
            raise FetchFailed(f"the centre's feed is unreachable: {type(error).__name__}") from None
        if not response.is_success:
            raise FetchFailed(f"the centre's feed answered {response.status_code}")
        return FeedPage(
            response.content,
            response.headers.get("Tutela-Key-Id", ""),
            response.headers.get("Tutela-Signature", ""),
        )


def subscribe_bank(
    database: Database,
    name: str,
    centre_url: str,
    public_key_pem: str,
    *,
    actor: str = SYSTEM,
) -> None:
    """Create (or re-point) a verified bank fed by the centre; indicators only from the Centre
    or another confirmed source (Art 44, REGULATION: detection safeguards)."""
    public_key = load_public_key(public_key_pem)  # refuse a non-Ed25519 key now, not at a fetch
    if not centre_url.startswith(("https://", "http://")):
        raise InvalidInput("the centre's URL is http(s)")
    try:
        with database.reader() as session:
            bank_by_name(session, name)
    except NotFound:
        create_bank(database, name, source="eu-centre", verified=True, actor=actor)
    with database.unit_of_work() as session:
        bank = bank_by_name(session, name)
        state = load_checkpoint(session, bank.id, EXCHANGE)
        state.update({"url": centre_url, "public_key_pem": public_key_pem})
        state.setdefault("since", 0)
        save_checkpoint(session, bank.id, EXCHANGE, state)
        details = {"centre": centre_url, "key_id": key_id_of(public_key)}
        record_bank_change(session, actor, BankAction.SUBSCRIBE, name, details)


def subscribed_banks(database: Database) -> list[str]:
    with database.reader() as session:
        query = (
            select(Bank.name)
            .join(FetchCheckpoint, FetchCheckpoint.bank_id == Bank.id)
            .where(FetchCheckpoint.exchange == EXCHANGE)
            .order_by(Bank.name)
        )
        return list(session.scalars(query))


def follow_feed(
    database: Database, bank_name: str, client: FeedClient, now: datetime, *, actor: str = SYSTEM
) -> FetchReport:
    """Apply every feed page after the bank's checkpoint (each page that brings entries is
    audited as `actor`'s fetch); return what changed."""
    with database.reader() as session:
        bank = bank_by_name(session, bank_name)
        state = load_checkpoint(session, bank.id, EXCHANGE)
    if not state.get("url"):
        raise NotFound(f"bank {bank_name!r} subscribes to no feed; use `tutela bank subscribe`")
    public_key = load_public_key(str(state["public_key_pem"]))
    expected_key = key_id_of(public_key)
    report = FetchReport(bank=bank_name, exchange=EXCHANGE)
    since = int(state.get("since", 0))
    for _ in range(MAX_PAGES_PER_RUN):
        page = client.fetch(str(state["url"]), since, PAGE, now)
        if page.key_id != expected_key:
            raise InvalidSignature("the feed page is signed with a key this bank does not trust")
        verify_signature(public_key, page.body, page.signature)
        data = _checked(parse_json(page.body), since)
        added, removed = _apply(database, bank_name, bank.id, data, state, actor)
        report.pages += 1
        report.entries += len(data["items"])
        report.added += added
        report.removed += removed
        since = int(data["next"])
        if not data.get("more"):
            break
    return report


def _checked(data: Any, since: int) -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("schema") != FEED_SCHEMA:
        raise InvalidInput(f"the feed page is not {FEED_SCHEMA}")
    # A page for another cursor than asked could be an old page replayed.
    if data.get("since") != since or not isinstance(data.get("items"), list):
        raise InvalidInput("the feed page does not answer the cursor asked for")
    if not isinstance(data.get("next"), int) or data["next"] < since:
        raise InvalidInput("the feed page's next cursor goes backwards")
    return data


def _apply(
    database: Database,
    bank_name: str,
    bank_id: int,
    data: dict[str, Any],
    state: dict[str, Any],
    actor: str,
) -> tuple[int, int]:
    added = removed = 0
    with database.unit_of_work() as session:
        for entry in data["items"]:
            signal_type = str(entry.get("signal_type"))
            value = get_signal_type(signal_type).validate(str(entry.get("value")))
            generation = entry.get("generation") or {}
            if entry.get("op") == "add":
                record = {
                    "signal_type": signal_type,
                    "value": value,
                    "external_id": f"centre:{generation.get('indicator_id')}",
                    "metadata": {"generation": generation, "feed_seq": entry.get("seq")},
                }
                added += insert_indicators(session, bank_id, [record], source=EXCHANGE)
                if signal_type == "pdq" and "variants" in entry:
                    # Further PDQs of the confirmed image (its crops), matched as the indicator.
                    variants = check_variants(entry["variants"])
                    store_variants(session, bank_id, {value: variants})
            elif entry.get("op") == "remove":
                removed += delete_values(session, bank_id, signal_type, [value])
            else:
                raise InvalidInput("a feed entry's op is add or remove")
        state["since"] = int(data["next"])
        save_checkpoint(session, bank_id, EXCHANGE, dict(state))
        if data["items"]:  # an empty poll (most of them) is no change worth an entry
            record_fetched_page(
                session,
                actor,
                bank_name,
                EXCHANGE,
                entries=len(data["items"]),
                added=added,
                removed=removed,
            )
    return added, removed
