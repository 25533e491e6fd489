"""Removal orders and execution reports as signed documents.

An order is the canonical JSON of the fields of Annex IV, signed by the issuing authority with
its Ed25519 key as a `tutela.message/1` (`tutela.messaging.messages`: the kind, the order's id
as idempotency key, the signing time and key id are inside the signed bytes). The provider's
execution report (Annex VI) goes back the same way, signed with the provider's key. Both sides
read a document only through `read_removal_order` / `read_execution_report`, which name every
missing field at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tutela.errors import IncompleteOrder, InvalidHash, InvalidInput
from tutela.orders.states import Impediment, ItemState, OrderKind
from tutela.signals.exact import Sha256Signal

REMOVAL_KIND = "order.removal"
REPORT_KIND = "order.execution_report"
SCHEMA = "tutela.order/1"
REPORT_SCHEMA = "tutela.execution_report/1"
# Art 15(4): at most six weeks, renewable once.
MAX_NON_DISCLOSURE_WEEKS = 6
MAX_ITEMS = 1000
TEXT_MAX = 5000
REF_MAX = 64
# What an execution report may say of an item: removed, disabled or impeded (Annex VI), or, for
# a blocking or delisting order, that its entry is in force in the exports.
IN_FORCE_OUTCOME = "in_force"
REPORT_OUTCOMES = frozenset(
    {ItemState.REMOVED, ItemState.DISABLED, ItemState.IMPEDED, IN_FORCE_OUTCOME}
)
# What an item may be named by: the provider's item id, a URL, a SHA-256 of its bytes.
ITEM_KEYS = ("item_id", "url", "sha256")


@dataclass(frozen=True, slots=True)
class OrderedItem:
    ref: str
    item_id: str | None = None
    url: str | None = None
    sha256: str | None = None

    def as_dict(self) -> dict[str, str]:
        named = {"item_id": self.item_id, "url": self.url, "sha256": self.sha256}
        return {"ref": self.ref, **{k: v for k, v in named.items() if v is not None}}


@dataclass(frozen=True, slots=True)
class RemovalOrder:
    """The fields of Annex IV."""

    order_id: str
    issued_at: datetime
    authority_name: str
    authority_contact: str
    authority_country: str
    # Where the provider's answers go (`/v1/order-reports` under it).
    authority_url: str
    provider_name: str
    provider_legal_representative: str
    items: tuple[OrderedItem, ...]
    reasons: str
    legal_basis: str
    redress: str
    non_disclosure_weeks: int = 0
    non_disclosure_renewed: bool = False
    kind: str = field(default=OrderKind.REMOVAL)

    def document(self) -> dict[str, Any]:
        """The canonical-JSON-ready document that is signed."""
        return {
            "schema": SCHEMA,
            "kind": self.kind,
            "order_id": self.order_id,
            "issued_at": self.issued_at.isoformat(),
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
            "items": [item.as_dict() for item in self.items],
            "reasons": self.reasons,
            "legal_basis": self.legal_basis,
            "redress": self.redress,
            "non_disclosure": {
                "weeks": self.non_disclosure_weeks,
                "renewed": self.non_disclosure_renewed,
            },
        }

    def non_disclosure_until(self, received_at: datetime) -> datetime | None:
        """Until when the uploader is told nothing (Art 15(4)), counted from receipt."""
        if not self.non_disclosure_weeks:
            return None
        return received_at + timedelta(weeks=self.non_disclosure_weeks)


def check_non_disclosure(weeks: int) -> int:
    """Art 15(4): 0 to 6 weeks (a renewal is another period of at most 6)."""
    if not 0 <= weeks <= MAX_NON_DISCLOSURE_WEEKS:
        raise InvalidInput(
            f"a non-disclosure period is 0 to {MAX_NON_DISCLOSURE_WEEKS} weeks (Art 15(4))"
        )
    return weeks


def require_fields(
    document: dict[str, Any], own: tuple[str, ...], article: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields every order carries, and the kind's `own` ones, present and not empty;
    `IncompleteOrder` naming each one missing. Returns the authority and provider objects."""
    authority = _object(document, "authority")
    provider = _object(document, "provider")
    values = [
        ("order_id", document.get("order_id")),
        ("issued_at", document.get("issued_at")),
        *((name, document.get(name)) for name in own),
        ("authority.name", authority.get("name")),
        ("authority.contact", authority.get("contact")),
        ("authority.url", authority.get("url")),
        ("provider.name", provider.get("name")),
        ("items", document.get("items")),
        ("reasons", document.get("reasons")),
        ("legal_basis", document.get("legal_basis")),
        ("redress", document.get("redress")),
    ]
    missing = [name for name, value in values if value in (None, "", [], {})]
    if missing:
        raise IncompleteOrder(
            f"the order lacks {', '.join(missing)} ({article})", missing=tuple(missing)
        )
    return authority, provider


def read_removal_order(document: object) -> RemovalOrder:
    """The order a received document states; `IncompleteOrder` naming every missing field,
    `InvalidInput` for a field of the wrong shape."""
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise InvalidInput(f"the payload is not a {SCHEMA} document")
    if document.get("kind") != OrderKind.REMOVAL:
        raise InvalidInput(f"unknown order kind {document.get('kind')!r}")
    authority, provider = require_fields(document, ("non_disclosure",), "Annex IV")
    items = document["items"]
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise InvalidInput(f"items is a list of at most {MAX_ITEMS}")
    non_disclosure = _object(document, "non_disclosure")
    weeks = non_disclosure.get("weeks", 0)
    if not isinstance(weeks, int) or isinstance(weeks, bool):
        raise InvalidInput("non_disclosure.weeks is a whole number")
    return RemovalOrder(
        order_id=text_field(document, "order_id", REF_MAX),
        issued_at=time_field(document.get("issued_at"), "issued_at"),
        authority_name=text_field(authority, "name", 256),
        authority_contact=text_field(authority, "contact", 256),
        authority_country=str(authority.get("country") or "")[:2],
        authority_url=text_field(authority, "url", 512),
        provider_name=text_field(provider, "name", 256),
        provider_legal_representative=str(provider.get("legal_representative") or "")[:256],
        items=tuple(_item(entry, index) for index, entry in enumerate(items, start=1)),
        reasons=text_field(document, "reasons", TEXT_MAX),
        legal_basis=text_field(document, "legal_basis", TEXT_MAX),
        redress=text_field(document, "redress", TEXT_MAX),
        non_disclosure_weeks=check_non_disclosure(weeks),
        non_disclosure_renewed=bool(non_disclosure.get("renewed", False)),
    )


def ordered_items(refs: list[tuple[str, str]]) -> tuple[OrderedItem, ...]:
    """Items from `(key, value)` pairs as an issuing officer types them (`item_id=…`,
    `url=…`, `sha256=…`); each becomes one item, numbered in order."""
    if not refs:
        raise IncompleteOrder("a removal order names at least one item", missing=("items",))
    return tuple(
        _item({"ref": str(index), key: value}, index)
        for index, (key, value) in enumerate(refs, start=1)
    )


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """Annex VI, per item: removed or disabled and when, or the impediment."""

    ref: str
    item_ref: str
    outcome: str
    at: datetime | None
    impediment: str | None = None
    explanation: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "item_id": self.item_ref,
            "outcome": self.outcome,
            "at": self.at.isoformat() if self.at else None,
            "impediment": self.impediment,
            "explanation": self.explanation,
        }


def execution_report(
    order_id: str,
    provider_name: str,
    received_at: datetime,
    completed_at: datetime,
    outcomes: list[ItemOutcome],
    round_: int = 0,
    clock_started_at: datetime | None = None,
) -> dict[str, Any]:
    """The execution report's document (Annex VI), to be signed with the provider's key.
    `round_` n > 0: the report after the authority's n-th answer to an impediment, whose receipt
    (`clock_started_at`) started the clock again (Art 14(5)-(6))."""
    return {
        "schema": REPORT_SCHEMA,
        "order_id": order_id,
        "provider": provider_name,
        "round": round_,
        "received_at": received_at.isoformat(),
        "clock_started_at": (clock_started_at or received_at).isoformat(),
        "completed_at": completed_at.isoformat(),
        "items": [outcome.as_dict() for outcome in outcomes],
    }


def report_round(document: dict[str, Any]) -> int:
    """The round of a verified execution report (0 where the document predates rounds)."""
    value = document.get("round", 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInput("an execution report's round is a whole number from 0")
    return value


def read_execution_report(document: object) -> tuple[str, list[dict[str, Any]]]:
    """The order id and item outcomes a received execution report states."""
    if not isinstance(document, dict) or document.get("schema") != REPORT_SCHEMA:
        raise InvalidInput(f"the payload is not a {REPORT_SCHEMA} document")
    order_id, items = document.get("order_id"), document.get("items")
    if not isinstance(order_id, str) or not order_id or not isinstance(items, list) or not items:
        raise IncompleteOrder(
            "an execution report names its order_id and items", missing=("order_id", "items")
        )
    for entry in items:
        if not isinstance(entry, dict) or entry.get("outcome") not in REPORT_OUTCOMES:
            raise InvalidInput("each item of a report is removed, disabled, impediment or in_force")
    return order_id, [dict(entry) for entry in items]


def _item(entry: object, index: int) -> OrderedItem:
    if not isinstance(entry, dict):
        raise InvalidInput(f"item {index} is not an object")
    named = {key: entry.get(key) for key in ITEM_KEYS if entry.get(key) not in (None, "")}
    if not named:
        raise IncompleteOrder(
            f"item {index} names no item_id, url or sha256", missing=(f"items[{index}]",)
        )
    for key, value in named.items():
        if not isinstance(value, str) or len(value) > 2048:
            raise InvalidInput(f"item {index}: {key} is text of at most 2048 characters")
    sha = named.get("sha256")
    if sha is not None:
        try:
            Sha256Signal.check_canonical(sha)
        except InvalidHash as error:
            raise InvalidInput(f"item {index}: {error.message}") from None
    ref = entry.get("ref", str(index))
    if not isinstance(ref, str) or not ref or len(ref) > REF_MAX:
        raise InvalidInput(f"item {index}: ref is text of 1 to {REF_MAX} characters")
    return OrderedItem(ref, named.get("item_id"), named.get("url"), sha)


def _object(document: dict[str, Any], name: str) -> dict[str, Any]:
    value = document.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{name} is an object")
    return value


def text_field(document: dict[str, Any], name: str, limit: int) -> str:
    """The text field `name` of a document, at most `limit` characters; `InvalidInput` otherwise."""
    value = document.get(name)
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidInput(f"{name} is text of at most {limit} characters")
    return value


def time_field(value: object, name: str) -> datetime:
    """An ISO 8601 time with a time zone; `InvalidInput` otherwise."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(f"{name} is an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise InvalidInput(f"{name} needs a time zone")
    return parsed


def impediment_of(value: str) -> Impediment:
    try:
        return Impediment(value)
    except ValueError:
        allowed = ", ".join(reason.value for reason in Impediment)
        raise InvalidInput(f"an impediment is one of {allowed} (Annex V)") from None
