"""Blocking and delisting orders (Art 16-18) as signed documents: the fields a removal order has
(Annex IV's authority, provider, reasons, legal basis, redress), the entries of the Centre's URL
list (Art 44(3)) the order names, each by the Centre's number and its URL, and the end of the
order, at most five years after its issue. Read only through `read_access_order`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tutela.errors import IncompleteOrder, InvalidInput
from tutela.orders.documents import (
    MAX_ITEMS,
    REF_MAX,
    SCHEMA,
    TEXT_MAX,
    require_fields,
    text_field,
    time_field,
)
from tutela.orders.states import OrderKind

BLOCKING_KIND = "order.blocking"
DELISTING_KIND = "order.delisting"
# The signed message's kind for each order kind.
MESSAGE_KINDS = {OrderKind.BLOCKING: BLOCKING_KIND, OrderKind.DELISTING: DELISTING_KIND}
ACCESS_KINDS = frozenset(MESSAGE_KINDS.values())
# Art 16-18: in force for at most five years, reviewed every year.
MAX_DURATION = timedelta(days=5 * 365 + 1)
REVIEW_EVERY = timedelta(days=365)


@dataclass(frozen=True, slots=True)
class ListedEntry:
    """An entry of the Centre's URL list, as an order names it."""

    centre_id: int
    url: str

    def as_dict(self) -> dict[str, str]:
        return {"ref": str(self.centre_id), "url": self.url}


@dataclass(frozen=True, slots=True)
class AccessOrder:
    order_id: str
    kind: OrderKind
    issued_at: datetime
    ends_at: datetime
    authority_name: str
    authority_contact: str
    authority_country: str
    authority_url: str
    provider_name: str
    provider_legal_representative: str
    entries: tuple[ListedEntry, ...]
    reasons: str
    legal_basis: str
    redress: str

    @property
    def message_kind(self) -> str:
        return MESSAGE_KINDS[self.kind]

    def document(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "kind": self.kind.value,
            "order_id": self.order_id,
            "issued_at": self.issued_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "authority": {
                "name": self.authority_name,
                "contact": self.authority_contact,
                "country": self.authority_country,
                "url": self.authority_url,
            },
            "provider": {
                "name": self.provider_name,
                "legal_representative": self.provider_legal_representative,
            },
            # The same key as a removal order's: the authority's views read both alike.
            "items": [entry.as_dict() for entry in self.entries],
            "reasons": self.reasons,
            "legal_basis": self.legal_basis,
            "redress": self.redress,
        }


def check_duration(issued_at: datetime, ends_at: datetime) -> datetime:
    """Art 16-18: an order ends after its issue and at most five years later."""
    if ends_at.tzinfo is None:
        raise InvalidInput("the order's end needs a time zone")
    if ends_at <= issued_at:
        raise InvalidInput("the order's end is after its issue")
    if ends_at - issued_at > MAX_DURATION:
        raise InvalidInput("a blocking or delisting order lasts at most 5 years (Art 16-18)")
    return ends_at


def listed_entries(entries: list[tuple[int, str]]) -> tuple[ListedEntry, ...]:
    """Entries as an officer names them; at least one, each once."""
    if not entries:
        raise IncompleteOrder("the order names at least one entry of the URL list", ("items",))
    if len(entries) > MAX_ITEMS:
        raise InvalidInput(f"an order names at most {MAX_ITEMS} entries")
    if len({centre_id for centre_id, _ in entries}) != len(entries):
        raise InvalidInput("the order names one entry twice")
    return tuple(ListedEntry(centre_id, url) for centre_id, url in entries)


def entry_of(text: str) -> tuple[int, str]:
    """An entry as an officer types it: `NUMBER=URL`, as the Centre's URL list gives it."""
    number, sep, url = text.strip().partition("=")
    if not sep or not number.strip().isdigit() or len(number.strip()) > 18 or not url.strip():
        raise InvalidInput("an entry is NUMBER=URL, as the Centre's URL list gives it")
    return int(number), url.strip()


def end_of(text: str) -> datetime:
    """An order's end as typed: an ISO 8601 date (midnight UTC) or time."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput("the end is an ISO 8601 date or time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def next_review(issued_at: datetime, now: datetime) -> datetime:
    """The order's next yearly review (Art 16-18): the first anniversary of its issue not past."""
    years = max(1, int((now - issued_at) / REVIEW_EVERY) + 1)
    due = issued_at + REVIEW_EVERY * years
    return due if due > now else due + REVIEW_EVERY


def read_access_order(message_kind: str, document: object) -> AccessOrder:
    """The blocking or delisting order a received document states; `IncompleteOrder` naming
    every missing field, `InvalidInput` for a field of the wrong shape."""
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise InvalidInput(f"the payload is not a {SCHEMA} document")
    kind = document.get("kind")
    if kind not in MESSAGE_KINDS or MESSAGE_KINDS[OrderKind(kind)] != message_kind:
        raise InvalidInput(f"the order's kind {kind!r} does not match the message's")
    authority, provider = require_fields(document, ("ends_at",), "Art 16-18")
    items = document["items"]
    if not isinstance(items, list):
        raise InvalidInput("items is a list")
    issued_at = time_field(document.get("issued_at"), "issued_at")
    return AccessOrder(
        order_id=text_field(document, "order_id", REF_MAX),
        kind=OrderKind(kind),
        issued_at=issued_at,
        ends_at=check_duration(issued_at, time_field(document.get("ends_at"), "ends_at")),
        authority_name=text_field(authority, "name", 256),
        authority_contact=text_field(authority, "contact", 256),
        authority_country=str(authority.get("country") or "")[:2],
        authority_url=text_field(authority, "url", 512),
        provider_name=text_field(provider, "name", 256),
        provider_legal_representative=str(provider.get("legal_representative") or "")[:256],
        entries=listed_entries([_entry(entry, n) for n, entry in enumerate(items, start=1)]),
        reasons=text_field(document, "reasons", TEXT_MAX),
        legal_basis=text_field(document, "legal_basis", TEXT_MAX),
        redress=text_field(document, "redress", TEXT_MAX),
    )


def _entry(entry: object, index: int) -> tuple[int, str]:
    if not isinstance(entry, dict):
        raise InvalidInput(f"item {index} is not an object")
    ref, url = entry.get("ref"), entry.get("url")
    if not isinstance(ref, str) or not ref.isdigit() or len(ref) > 18:
        raise InvalidInput(f"item {index}: ref is the Centre's number of a URL list entry")
    if not isinstance(url, str) or not url or len(url) > 2048:
        raise InvalidInput(f"item {index}: url is text of 1 to 2048 characters")
    return int(ref), url
