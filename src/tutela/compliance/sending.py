"""The provider's side: its compliance documents signed with its key (the key that signs its
reports to the EU Centre) and queued in the outbox for its Coordinating Authority of
establishment (TUTELA_COORDINATING_AUTHORITY_URL), in the transaction that makes them and
audits the sending. They travel by the `orders` transport, which posts any signed document to
the URL it was queued with (at least once; the authority answers a repeat as the first); the
same document sent again is queued once (its idempotency key is derived from it). The figures'
rates travel as decimal strings, since signed canonical JSON carries no floats."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tutela.audit.log import Action, Subject, record, user_actor
from tutela.clock import Clock
from tutela.compliance.documents import (
    COMPLIANCE_PATH,
    RISK_REPORT,
    YEARLY_FIGURES,
    figures_key,
    risk_report_key,
    without_floats,
)
from tutela.db.database import Database
from tutela.errors import ConfigurationError
from tutela.messaging.messages import sign_message
from tutela.messaging.outbox import enqueue
from tutela.messaging.signing import SigningKey
from tutela.orders.transport import ORDERS, signed_payload
from tutela.reporting.fields import ProviderIdentity
from tutela.risk.art5_report import report_document
from tutela.risk.policy import RiskPolicy
from tutela.risk.register import acting_officer
from tutela.settings import Settings
from tutela.transparency.periods import Year
from tutela.transparency.provider_figures import provider_figures


@dataclass(frozen=True, slots=True)
class QueuedDocument:
    """A compliance document in the outbox: what it is, its key, and the message carrying it."""

    kind: str
    document_ref: str
    message_id: int
    status: str
    url: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "document_ref": self.document_ref,
            "message_id": self.message_id,
            "status": self.status,
            "url": self.url,
        }


def compliance_endpoint(settings: Settings) -> str:
    """Where the authority node takes compliance documents; a clear error when not set."""
    if not settings.coordinating_authority_url:
        raise ConfigurationError(
            "set TUTELA_COORDINATING_AUTHORITY_URL to the authority node of the provider's "
            "Coordinating Authority of establishment"
        )
    return settings.coordinating_authority_url.rstrip("/") + COMPLIANCE_PATH


def send_risk_report(
    database: Database,
    officer: str,
    key: SigningKey,
    provider: ProviderIdentity,
    policy: RiskPolicy,
    url: str,
    *,
    service: str | None = None,
    clock: Clock,
) -> QueuedDocument:
    """Queue the Art 5 report of `service`'s newest signed-off assessment for the authority;
    `officer` is a compliance officer's console account, and the sending is audited as theirs."""
    now = clock.now()
    with database.unit_of_work() as session:
        user = acting_officer(session, officer)
        report = report_document(session, provider, policy, service, now)
        ref = risk_report_key(report.service, report.version)
        signed = sign_message(key, RISK_REPORT, ref, report.document, now)
        message = enqueue(session, ORDERS, RISK_REPORT, signed_payload(url, signed), ref, now)
        record(
            session,
            user_actor(user.id),
            Action.EXPORT,
            Subject("risk_assessment", str(report.assessment_id)),
            {"document": RISK_REPORT, "to": "authority", "message_id": message.id},
            now=now,
        )
        return QueuedDocument(RISK_REPORT, ref, message.id, message.status, url)


def send_yearly_figures(
    database: Database,
    year: int,
    key: SigningKey,
    provider: ProviderIdentity,
    url: str,
    *,
    actor: str,
    clock: Clock,
) -> QueuedDocument:
    """Queue the provider's figures of `year` (Art 83(2)) for the authority, marked complete
    once the year has ended; audited as an export of the figures under `actor`."""
    period = Year.of(year)
    now = clock.now()
    with database.unit_of_work() as session:
        figures = without_floats(provider_figures(session, period))
        ref = figures_key(period.year, figures)
        document: dict[str, Any] = {
            "type": YEARLY_FIGURES,
            "provider": {
                "name": provider.name,
                "legal_representative": provider.legal_representative,
                "point_of_contact": provider.point_of_contact,
                "country": provider.country,
            },
            "year": period.year,
            "complete": now >= period.end,
            "figures": figures,
        }
        signed = sign_message(key, YEARLY_FIGURES, ref, document, now)
        message = enqueue(session, ORDERS, YEARLY_FIGURES, signed_payload(url, signed), ref, now)
        record(
            session,
            actor,
            Action.EXPORT,
            Subject("transparency_report", str(period.year)),
            {"kind": "provider", "year": period.year, "purpose": "send to the authority"},
            now=now,
        )
        return QueuedDocument(YEARLY_FIGURES, ref, message.id, message.status, url)
