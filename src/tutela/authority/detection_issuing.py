"""Issuing a detection order (Art 7-11): a case officer names the provider's service parts (among
the services it was registered with, when any were), the kinds of detection, the Centre's
indicators to use, the start and end (at most 24 months, 12 for solicitation) and the safeguards;
the order is signed, queued for the provider with its copy for the Centre, and audited, in one
transaction, as a removal order is (`tutela.authority.issuing.queue_order`)."""

from __future__ import annotations

from datetime import datetime

from tutela.authority.issuing import (
    DEFAULT_REDRESS,
    IssuedView,
    Issuer,
    OrderHeader,
    checked_texts,
    issue_order,
)
from tutela.authority.models import OrderedProvider
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.errors import InvalidInput
from tutela.messaging.signing import SigningKey
from tutela.orders.detection_documents import (
    DETECTION_KIND,
    DetectionOrder,
    check_indicators,
    check_period,
    detection_kinds,
    service_parts,
)
from tutela.orders.states import OrderKind

DEFAULT_LEGAL_BASIS = "Regulation on preventing and combating child sexual abuse, Art 7"


def issue_detection_order(
    database: Database,
    by: str,
    provider: str,
    services: list[str],
    kinds: list[str],
    ends_at: datetime,
    safeguards: str,
    reasons: str,
    issuer: Issuer,
    key: SigningKey,
    *,
    indicators: list[str] | None = None,
    starts_at: datetime | None = None,
    legal_basis: str = DEFAULT_LEGAL_BASIS,
    redress: str = DEFAULT_REDRESS,
    clock: Clock | None = None,
) -> IssuedView:
    """Sign and queue one detection order; `by` is a case officer's account. The indicators
    default to the Centre's databases of the kinds ordered; the start, to the issue."""
    safeguards, reasons, legal_basis, redress = checked_texts(
        {
            "safeguards": safeguards,
            "reasons": reasons,
            "legal basis": legal_basis,
            "redress": redress,
        },
        "Art 7-8",
    )
    parts = service_parts(services)
    ordered = detection_kinds(kinds, "kinds")
    used = detection_kinds(indicators, "indicators") if indicators else ordered
    check_indicators(ordered, used)
    now = (clock or SystemClock()).now()
    start = starts_at or now
    check_period(now, start, ends_at, ordered)

    def draft(target: OrderedProvider, header: OrderHeader) -> DetectionOrder:
        unknown = [part for part in parts if target.services and part not in target.services]
        if unknown:
            raise InvalidInput(
                f"{target.name} was registered with the services {', '.join(target.services)}; "
                f"not {', '.join(unknown)}"
            )
        return DetectionOrder(
            **header,
            starts_at=start,
            ends_at=ends_at,
            services=parts,
            kinds=ordered,
            indicators=used,
            safeguards=safeguards,
            reasons=reasons,
            legal_basis=legal_basis,
            redress=redress,
        )

    kinds_of = (OrderKind.DETECTION, DETECTION_KIND)
    return issue_order(database, by, provider, kinds_of, draft, len(parts), issuer, key, now)
