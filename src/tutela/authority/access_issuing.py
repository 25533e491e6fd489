"""Issuing a blocking order (Art 16, to an internet access service) or a delisting order (to a
search engine): a case officer names entries of the Centre's URL list (Art 44(3)) by their
numbers and URLs, and the day the order ends, at most five years on; it is signed, queued for the
provider with its copy for the Centre, and audited, in one transaction, as a removal order is
(`tutela.authority.issuing.queue_order`). Each order is reviewed yearly (`next_review`)."""

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
from tutela.orders.access_documents import (
    MESSAGE_KINDS,
    AccessOrder,
    check_duration,
    listed_entries,
)
from tutela.orders.states import OrderKind
from tutela.orders.url_hosts import host_of

DEFAULT_LEGAL_BASIS = {
    OrderKind.BLOCKING: "Regulation on preventing and combating child sexual abuse, Art 16",
    OrderKind.DELISTING: "Regulation on preventing and combating child sexual abuse, Art 18a",
}


def issue_access_order(
    database: Database,
    by: str,
    provider: str,
    kind: OrderKind,
    entries: list[tuple[int, str]],
    ends_at: datetime,
    reasons: str,
    issuer: Issuer,
    key: SigningKey,
    *,
    legal_basis: str = "",
    redress: str = DEFAULT_REDRESS,
    clock: Clock | None = None,
) -> IssuedView:
    """Sign and queue one blocking or delisting order; `by` is a case officer's account."""
    if kind not in DEFAULT_LEGAL_BASIS:
        raise InvalidInput("this is a blocking or a delisting order")
    reasons, legal_basis, redress = checked_texts(
        {
            "reasons": reasons,
            "legal basis": legal_basis.strip() or DEFAULT_LEGAL_BASIS[kind],
            "redress": redress,
        }
    )
    listed = listed_entries(entries)
    for entry in listed:
        host_of(entry.url)
    now = (clock or SystemClock()).now()
    check_duration(now, ends_at)

    def draft(target: OrderedProvider, header: OrderHeader) -> AccessOrder:
        return AccessOrder(
            **header,
            kind=kind,
            ends_at=ends_at,
            entries=listed,
            reasons=reasons,
            legal_basis=legal_basis,
            redress=redress,
        )

    message_kind = MESSAGE_KINDS[kind]
    return issue_order(
        database, by, provider, (kind, message_kind), draft, len(listed), issuer, key, now
    )
