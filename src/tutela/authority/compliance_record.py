"""A provider's compliance record as the authority holds it, per provider and as one signed
file: its orders with their state, time to execute and the signed order and execution report
documents (Annex IV, VI), its Art 5 risk reports and its yearly figures (Art 83(2)), each with
the exact bytes and signature the provider sent, so that anyone holding the keys can check every
part again. The file is canonical JSON signed with the authority's key; exporting it is audited."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tutela.audit.log import Action, Subject, record
from tutela.authority.compliance import DocumentView, provider_documents
from tutela.authority.compliance_models import ComplianceDocument
from tutela.authority.issuing import Issuer
from tutela.authority.models import IssuedOrder, OrderedProvider
from tutela.authority.supervision import SupervisedOrder, provider_orders
from tutela.compliance.documents import RISK_REPORT, YEARLY_FIGURES
from tutela.db.database import Database
from tutela.errors import NotFound
from tutela.messaging.signed_files import signed_file, verify_signed_file
from tutela.messaging.signing import SigningKey, sign_report

FORMAT = "tutela-compliance-record/1"
RECORD_TYPE = "csa_compliance_record"


@dataclass(frozen=True, slots=True)
class ProviderSummary:
    """A line of the console's provider list."""

    id: int
    name: str
    country: str
    key_id: str
    services: tuple[str, ...]
    orders: int
    risk_reports: int
    yearly_figures: int
    last_received_at: datetime | None


@dataclass(frozen=True, slots=True)
class ProviderRecord:
    """One provider's page: who it is, its orders, its documents (newest first)."""

    summary: ProviderSummary
    orders: list[SupervisedOrder]
    risk_reports: list[DocumentView]
    yearly_figures: list[DocumentView]


@dataclass(frozen=True, slots=True)
class ExportedRecord:
    provider: str
    file_bytes: bytes

    @property
    def file_name(self) -> str:
        safe = re.sub(r"[^A-Za-z0-9]+", "-", self.provider).strip("-")[:64] or "provider"
        return f"compliance-record-{safe}.json"


def provider_summaries(database: Database) -> list[ProviderSummary]:
    """Every registered provider, by name, with what the authority holds of it."""
    with database.reader() as session:
        rows = session.scalars(select(OrderedProvider).order_by(OrderedProvider.name))
        return [_summary(session, row) for row in rows]


def provider_record(
    database: Database, provider_id: int, now: datetime, deadline: timedelta
) -> ProviderRecord:
    with database.reader() as session:
        provider = session.get(OrderedProvider, provider_id)
        if provider is None:
            raise NotFound(f"no provider {provider_id}")
        return _record(session, provider, now, deadline)


def export_record(
    database: Database,
    actor: str,
    provider_id: int,
    key: SigningKey,
    issuer: Issuer,
    now: datetime,
    deadline: timedelta,
) -> ExportedRecord:
    """The provider's record signed with the authority's key; audited as an export by `actor`."""
    with database.unit_of_work() as session:
        provider = session.get(OrderedProvider, provider_id)
        if provider is None:
            raise NotFound(f"no provider {provider_id}")
        shown = _record(session, provider, now, deadline)
        document: dict[str, Any] = {
            "type": RECORD_TYPE,
            "authority": {
                "name": issuer.name,
                "contact": issuer.contact,
                "country": issuer.country,
                "url": issuer.url,
            },
            "provider": {
                "name": provider.name,
                "country": provider.country,
                "services": list(provider.services),
                "legal_representative": provider.legal_representative,
                "key_id": provider.key_id,
                "public_key": provider.public_key_pem,
            },
            "exported_at": now.isoformat(),
            "orders": [_order_entry(session, order) for order in shown.orders],
            "risk_reports": [d.as_dict() for d in reversed(shown.risk_reports)],
            "yearly_figures": [d.as_dict() for d in reversed(shown.yearly_figures)],
        }
        signed = sign_report(document, key, now)
        record(
            session,
            actor,
            Action.EXPORT,
            Subject("authority_provider", str(provider.id)),
            {"document": RECORD_TYPE, "key_id": key.key_id, "orders": len(shown.orders)},
            now=now,
        )
    return ExportedRecord(provider.name, signed_file(FORMAT, signed, key))


def verify_record(data: bytes, public_key_pem: str | None = None) -> dict[str, Any]:
    """The record of an exported file, if its signature verifies against `public_key_pem`
    (the authority's; the key in the file when None) and names that key."""
    return verify_signed_file(data, FORMAT, public_key_pem, content="record", signed_as="record")


def _summary(session: Session, row: OrderedProvider) -> ProviderSummary:
    orders = session.scalar(
        select(func.count()).select_from(IssuedOrder).where(IssuedOrder.provider_id == row.id)
    )
    counts = dict(
        session.execute(
            select(ComplianceDocument.kind, func.count())
            .where(ComplianceDocument.provider_id == row.id)
            .group_by(ComplianceDocument.kind)
        ).all()
    )
    last = session.scalar(
        select(func.max(ComplianceDocument.received_at)).where(
            ComplianceDocument.provider_id == row.id
        )
    )
    return ProviderSummary(
        row.id,
        row.name,
        row.country,
        row.key_id,
        tuple(row.services),
        int(orders or 0),
        int(counts.get(RISK_REPORT, 0)),
        int(counts.get(YEARLY_FIGURES, 0)),
        last,
    )


def _record(
    session: Session, provider: OrderedProvider, now: datetime, deadline: timedelta
) -> ProviderRecord:
    documents = provider_documents(session, provider)
    return ProviderRecord(
        _summary(session, provider),
        provider_orders(session, provider.id, now, deadline),
        [d for d in documents if d.kind == RISK_REPORT],
        [d for d in documents if d.kind == YEARLY_FIGURES],
    )


def _order_entry(session: Session, order: SupervisedOrder) -> dict[str, Any]:
    row = session.get_one(IssuedOrder, order.id)
    report = None
    if row.report_body is not None and row.report_received_at is not None:
        report = {
            "body": row.report_body,
            "signature": row.report_signature,
            "received_at": row.report_received_at.isoformat(),
        }
    return {
        "order_id": order.order_id,
        "kind": order.kind,
        "status": order.status,
        "issued_by": order.issued_by,
        "issued_at": order.issued_at.isoformat(),
        "received_at": order.received_at.isoformat() if order.received_at else None,
        # Whole seconds: canonical JSON carries no floats.
        "time_to_execute_s": round(order.took.total_seconds()) if order.took is not None else None,
        "items": order.items,
        "order": {"body": row.body, "signature": row.signature},
        "execution_report": report,
    }
