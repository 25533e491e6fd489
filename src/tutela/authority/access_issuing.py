"""Issuing a blocking order (Art 16, to an internet access service) or a delisting order (to a
search engine): a case officer names entries of the Centre's URL list (Art 44(3)) by their
numbers and URLs, and the day the order ends, at most five years on; it is signed, queued for the
provider with its copy for the Centre, and audited, in one transaction, as a removal order is
(`tutela.authority.issuing.queue_order`). Each order is reviewed yearly (`next_review`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from tutela.auth.actors import acting_account
from tutela.auth.roles import Permission
from tutela.authority.issuing import (
    DEFAULT_REDRESS,
    TEXT_MAX,
    IssuedView,
    Issuer,
    queue_order,
)
from tutela.authority.providers import provider_named
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.errors import InvalidInput
from tutela.messaging.signing import SigningKey
from tutela.orders.access_documents import AccessOrder, check_duration, listed_entries
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
    legal_basis = legal_basis.strip() or DEFAULT_LEGAL_BASIS[kind]
    reasons, redress = reasons.strip(), redress.strip()
    for label, text in (("reasons", reasons), ("legal basis", legal_basis), ("redress", redress)):
        if not text or len(text) > TEXT_MAX:
            raise InvalidInput(f"the {label} is 1 to {TEXT_MAX} characters")
    listed = listed_entries(entries)
    for entry in listed:
        host_of(entry.url)
    now = (clock or SystemClock()).now()
    check_duration(now, ends_at)
    with database.unit_of_work() as session:
        account = acting_account(session, by, Permission.ISSUE_ORDER)
        target = provider_named(session, provider)
        order = AccessOrder(
            order_id=str(uuid.uuid4()),
            kind=kind,
            issued_at=now,
            ends_at=ends_at,
            authority_name=issuer.name,
            authority_contact=issuer.contact,
            authority_country=issuer.country,
            authority_url=issuer.url,
            provider_name=target.name,
            provider_legal_representative=target.legal_representative,
            entries=listed,
            reasons=reasons,
            legal_basis=legal_basis,
            redress=redress,
        )
        row = queue_order(
            session,
            account.actor,
            target,
            kind,
            order.message_kind,
            order.order_id,
            order.document(),
            issuer,
            key,
            now,
        )
        return IssuedView(row.id, order.order_id, target.name, row.state, len(listed))
