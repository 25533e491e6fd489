"""Issuing a removal order (Art 14, Annex IV): a case officer's act, in one transaction — the
signed document stored, its delivery to the provider and its copy to the EU Centre queued in the
outbox, and the act audited. The order's id (a UUID inside the signed bytes) is the idempotency
key its deliveries carry."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypedDict

from sqlalchemy.orm import Session

from tutela.audit.log import Subject, record
from tutela.auth.actors import acting_account
from tutela.auth.roles import Permission
from tutela.authority.models import IssuedOrder, OrderedProvider
from tutela.authority.providers import provider_named
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.errors import ConfigurationError, InvalidInput
from tutela.messaging.messages import sign_message
from tutela.messaging.outbox import enqueue
from tutela.messaging.signing import SigningKey
from tutela.orders.documents import REMOVAL_KIND, RemovalOrder, check_non_disclosure, ordered_items
from tutela.orders.states import IssuedState, OrderKind
from tutela.orders.transport import ORDERS, ORDERS_PATH, signed_payload
from tutela.settings import Settings

DEFAULT_LEGAL_BASIS = "Regulation on preventing and combating child sexual abuse, Art 14"
DEFAULT_REDRESS = (
    "The provider and the uploader may challenge this order before the courts of the issuing "
    "Member State (Art 15(1))."
)
TEXT_MAX = 5000
# The centre's copy travels under its own key: one outbox row per destination and key.
COPY_PREFIX = "copy:"


@dataclass(frozen=True, slots=True)
class Issuer:
    """Who issues, as the orders say it (Annex IV), and where copies go."""

    name: str
    contact: str
    country: str
    url: str
    centre_url: str | None

    @classmethod
    def of(cls, settings: Settings) -> Issuer:
        missing = [
            variable
            for variable, value in (
                ("TUTELA_AUTHORITY_NAME", settings.authority_name),
                ("TUTELA_AUTHORITY_CONTACT", settings.authority_contact),
                ("TUTELA_AUTHORITY_URL", settings.authority_url),
            )
            if not value
        ]
        if missing:
            raise ConfigurationError(f"an order names its issuer: set {', '.join(missing)}")
        return cls(
            settings.authority_name,
            settings.authority_contact,
            settings.authority_country,
            str(settings.authority_url).rstrip("/"),
            settings.centre_url.rstrip("/") if settings.centre_url else None,
        )


@dataclass(frozen=True, slots=True)
class IssuedView:
    id: int
    order_id: str
    provider: str
    state: str
    items: int


def issue_removal_order(
    database: Database,
    by: str,
    provider: str,
    item_refs: list[tuple[str, str]],
    reasons: str,
    issuer: Issuer,
    key: SigningKey,
    *,
    legal_basis: str = DEFAULT_LEGAL_BASIS,
    redress: str = DEFAULT_REDRESS,
    non_disclosure_weeks: int = 0,
    clock: Clock | None = None,
) -> IssuedView:
    """Sign and queue one removal order; `by` is a case officer's account."""
    reasons, legal_basis, redress = checked_texts(
        {"reasons": reasons, "legal basis": legal_basis, "redress": redress}, "Annex IV"
    )
    items = ordered_items(item_refs)
    weeks = check_non_disclosure(non_disclosure_weeks)

    def draft(target: OrderedProvider, header: OrderHeader) -> RemovalOrder:
        return RemovalOrder(
            **header,
            items=items,
            reasons=reasons,
            legal_basis=legal_basis,
            redress=redress,
            non_disclosure_weeks=weeks,
        )

    now = (clock or SystemClock()).now()
    return issue_order(
        database,
        by,
        provider,
        (OrderKind.REMOVAL, REMOVAL_KIND),
        draft,
        len(items),
        issuer,
        key,
        now,
    )


class OrderHeader(TypedDict):
    """What every order states first (Annex IV, Art 7-8, Art 16-18): its id and issue, who issues
    it, and to whom."""

    order_id: str
    issued_at: datetime
    authority_name: str
    authority_contact: str
    authority_country: str
    authority_url: str
    provider_name: str
    provider_legal_representative: str


class Draft(Protocol):
    """An order of any kind, before it is signed."""

    @property
    def order_id(self) -> str: ...

    def document(self) -> dict[str, Any]: ...


def checked_texts(texts: dict[str, str], law: str = "") -> list[str]:
    """The order's free texts, stripped, each 1 to TEXT_MAX characters (`law`: where the refusal
    says the field comes from)."""
    where = f" ({law})" if law else ""
    checked = []
    for label, text in texts.items():
        text = text.strip()
        if not text or len(text) > TEXT_MAX:
            raise InvalidInput(f"the {label} is 1 to {TEXT_MAX} characters{where}")
        checked.append(text)
    return checked


def issue_order(
    database: Database,
    by: str,
    provider: str,
    kinds: tuple[OrderKind, str],
    draft: Callable[[OrderedProvider, OrderHeader], Draft],
    count: int,
    issuer: Issuer,
    key: SigningKey,
    now: datetime,
) -> IssuedView:
    """Issue one order of any kind (`kinds`: the order's and its message's) in one transaction:
    the case officer's account checked, the provider looked up, the order drafted for it (the
    draft may refuse it), signed, queued (`queue_order`) and audited; `count` is what it names."""
    kind, message_kind = kinds
    with database.unit_of_work() as session:
        account = acting_account(session, by, Permission.ISSUE_ORDER)
        target = provider_named(session, provider)
        header = OrderHeader(
            order_id=str(uuid.uuid4()),
            issued_at=now,
            authority_name=issuer.name,
            authority_contact=issuer.contact,
            authority_country=issuer.country,
            authority_url=issuer.url,
            provider_name=target.name,
            provider_legal_representative=target.legal_representative,
        )
        order = draft(target, header)
        row = queue_order(
            session,
            account.actor,
            target,
            kind,
            message_kind,
            order.order_id,
            order.document(),
            issuer,
            key,
            now,
        )
        return IssuedView(row.id, order.order_id, target.name, row.state, count)


def queue_order(
    session: Session,
    actor: str,
    target: OrderedProvider,
    kind: OrderKind,
    message_kind: str,
    order_id: str,
    document: dict[str, Any],
    issuer: Issuer,
    key: SigningKey,
    now: datetime,
) -> IssuedOrder:
    """Sign one order's document, store it, queue it for the provider and its copy for the
    Centre, and audit the act — inside the caller's transaction."""
    signed = sign_message(key, message_kind, order_id, document, now)
    row = IssuedOrder(
        order_ref=order_id,
        kind=kind,
        provider_id=target.id,
        state=IssuedState.SENT,
        issued_by=actor,
        issued_at=now,
        body=signed.body.decode("utf-8"),
        signature=signed.signature,
    )
    session.add(row)
    session.flush()
    enqueue(session, ORDERS, message_kind, signed_payload(target.order_url, signed), order_id, now)
    details: dict[str, Any] = {
        "order_id": order_id,
        "kind": kind.value,
        "provider": target.name,
        "items": len(document["items"]),
        "copied_to_centre": issuer.centre_url is not None,
    }
    if issuer.centre_url is not None:
        enqueue(
            session,
            ORDERS,
            message_kind,
            signed_payload(issuer.centre_url + ORDERS_PATH, signed),
            COPY_PREFIX + order_id,
            now,
        )
    record(session, actor, "order_issue", Subject("order", str(row.id)), details, now=now)
    return row
