"""Detection orders (Art 7-11) as signed documents: the fields every order has (authority,
provider, reasons, legal basis, redress: `require_fields`), the service parts the order covers
(its `items`, each a name the provider's items give in `metadata.service`), the kinds of
detection (known material, new material, solicitation), the Centre's indicator databases to use
(Art 44(1)), the start and the end — at most 24 months, 12 when it covers solicitation
(Art 7(9)) — and the safeguards the provider must apply (Art 7(8), 10). Read only through
`read_detection_order`."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tutela.detection.kinds import SERVICE_MAX, DetectionKind
from tutela.errors import IncompleteOrder, InvalidInput
from tutela.orders.documents import (
    REF_MAX,
    SCHEMA,
    TEXT_MAX,
    require_fields,
    text_field,
    time_field,
)
from tutela.orders.states import OrderKind

DETECTION_KIND = "order.detection"
# Art 7(9): at most 24 months, 12 for the solicitation of children.
MAX_MONTHS = 24
MAX_MONTHS_SOLICITATION = 12
MAX_SERVICES = 100


@dataclass(frozen=True, slots=True)
class DetectionOrder:
    order_id: str
    issued_at: datetime
    starts_at: datetime
    ends_at: datetime
    authority_name: str
    authority_contact: str
    authority_country: str
    authority_url: str
    provider_name: str
    provider_legal_representative: str
    services: tuple[str, ...]
    kinds: tuple[DetectionKind, ...]
    indicators: tuple[DetectionKind, ...]
    safeguards: str
    reasons: str
    legal_basis: str
    redress: str
    kind: OrderKind = OrderKind.DETECTION

    def document(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "kind": self.kind.value,
            "order_id": self.order_id,
            "issued_at": self.issued_at.isoformat(),
            "starts_at": self.starts_at.isoformat(),
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
            # The service parts, under the key every order's views read.
            "items": [
                {"ref": str(n), "service": name} for n, name in enumerate(self.services, start=1)
            ],
            "kinds": [kind.value for kind in self.kinds],
            "indicators": [kind.value for kind in self.indicators],
            "safeguards": self.safeguards,
            "reasons": self.reasons,
            "legal_basis": self.legal_basis,
            "redress": self.redress,
        }


def add_months(at: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months on (the month's last day if shorter)."""
    index = at.month - 1 + months
    year, month = at.year + index // 12, index % 12 + 1
    return at.replace(year=year, month=month, day=min(at.day, calendar.monthrange(year, month)[1]))


def check_period(
    issued_at: datetime, starts_at: datetime, ends_at: datetime, kinds: tuple[DetectionKind, ...]
) -> None:
    """Art 7(9): starts at or after its issue, ends after it starts and at most 24 months
    later (12 when it covers solicitation)."""
    for name, value in (("start", starts_at), ("end", ends_at)):
        if value.tzinfo is None:
            raise InvalidInput(f"the order's {name} needs a time zone")
    if starts_at < issued_at:
        raise InvalidInput("a detection order starts at or after its issue")
    if ends_at <= starts_at:
        raise InvalidInput("a detection order ends after it starts")
    months = MAX_MONTHS_SOLICITATION if DetectionKind.SOLICITATION in kinds else MAX_MONTHS
    if ends_at > add_months(starts_at, months):
        raise InvalidInput(
            f"a detection order lasts at most {months} months"
            f"{' when it covers solicitation' if months == MAX_MONTHS_SOLICITATION else ''}"
            " (Art 7(9))"
        )


def detection_kinds(values: list[str] | tuple[str, ...], field: str) -> tuple[DetectionKind, ...]:
    """Kinds as given: at least one, each once, each known / new / solicitation."""
    if not values:
        raise IncompleteOrder(f"the order names no {field}", missing=(field,))
    kinds: list[DetectionKind] = []
    for value in values:
        try:
            kind = DetectionKind(value)
        except ValueError:
            allowed = ", ".join(k.value for k in DetectionKind)
            raise InvalidInput(f"each of {field} is one of {allowed}") from None
        if kind in kinds:
            raise InvalidInput(f"{field} names {kind.value} twice")
        kinds.append(kind)
    return tuple(kinds)


def check_indicators(
    kinds: tuple[DetectionKind, ...], indicators: tuple[DetectionKind, ...]
) -> None:
    """Art 10(1): each kind of detection uses the Centre's indicators of that kind."""
    lacking = [kind.value for kind in kinds if kind not in indicators]
    if lacking:
        raise InvalidInput(
            f"the order names no Centre indicators for {', '.join(lacking)} (Art 10(1))"
        )


def service_parts(values: Sequence[object]) -> tuple[str, ...]:
    """Service parts as named: at least one, each once, 1 to SERVICE_MAX characters."""
    if not values:
        raise IncompleteOrder("the order names no service part", missing=("items",))
    if len(values) > MAX_SERVICES:
        raise InvalidInput(f"an order names at most {MAX_SERVICES} service parts")
    parts: list[str] = []
    for value in values:
        name = value.strip() if isinstance(value, str) else ""
        if not name or len(name) > SERVICE_MAX or not name.isprintable() or name == "*":
            raise InvalidInput(
                f"a service part is a name of 1 to {SERVICE_MAX} printable characters, as the "
                "provider's items give it in metadata.service"
            )
        if name in parts:
            raise InvalidInput(f"the order names the service part {name} twice")
        parts.append(name)
    return tuple(parts)


def read_detection_order(document: object) -> DetectionOrder:
    """The detection order a received document states; `IncompleteOrder` naming every missing
    field, `InvalidInput` for a field of the wrong shape or a period the law does not allow."""
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise InvalidInput(f"the payload is not a {SCHEMA} document")
    if document.get("kind") != OrderKind.DETECTION:
        raise InvalidInput(
            f"the order's kind {document.get('kind')!r} does not match the message's"
        )
    own = ("starts_at", "ends_at", "kinds", "indicators", "safeguards")
    authority, provider = require_fields(document, own, "Art 7-8")
    items, kinds, indicators = document["items"], document["kinds"], document["indicators"]
    for name, value in (("items", items), ("kinds", kinds), ("indicators", indicators)):
        if not isinstance(value, list):
            raise InvalidInput(f"{name} is a list")
    if not all(isinstance(entry, dict) for entry in items):
        raise InvalidInput("each item names a service part as {'ref': …, 'service': …}")
    order_kinds = detection_kinds([str(k) for k in kinds], "kinds")
    order_indicators = detection_kinds([str(k) for k in indicators], "indicators")
    check_indicators(order_kinds, order_indicators)
    issued_at = time_field(document.get("issued_at"), "issued_at")
    starts_at = time_field(document.get("starts_at"), "starts_at")
    ends_at = time_field(document.get("ends_at"), "ends_at")
    check_period(issued_at, starts_at, ends_at, order_kinds)
    return DetectionOrder(
        order_id=text_field(document, "order_id", REF_MAX),
        issued_at=issued_at,
        starts_at=starts_at,
        ends_at=ends_at,
        authority_name=text_field(authority, "name", 256),
        authority_contact=text_field(authority, "contact", 256),
        authority_country=str(authority.get("country") or "")[:2],
        authority_url=text_field(authority, "url", 512),
        provider_name=text_field(provider, "name", 256),
        provider_legal_representative=str(provider.get("legal_representative") or "")[:256],
        services=service_parts([entry.get("service") for entry in items]),
        kinds=order_kinds,
        indicators=order_indicators,
        safeguards=text_field(document, "safeguards", TEXT_MAX),
        reasons=text_field(document, "reasons", TEXT_MAX),
        legal_basis=text_field(document, "legal_basis", TEXT_MAX),
        redress=text_field(document, "redress", TEXT_MAX),
    )
