"""The Art 5 report to the Coordinating Authority: a signed-off assessment with its figures,
levels, method and mitigation measures, as canonical JSON signed with the provider's key
(the key that signs its reports to the EU Centre). It is sent to the authority node through the
outbox (tutela.compliance.sending), and exported as a file: the document, its detached signature
and the public key to check it with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.audit.log import Action, Subject, record, user_actor
from tutela.clock import Clock
from tutela.db.database import Database
from tutela.messaging.signed_files import signed_file, verify_signed_file
from tutela.messaging.signing import SigningKey, sign_report
from tutela.reporting.fields import ProviderIdentity
from tutela.risk.models import RiskChange
from tutela.risk.policy import RiskPolicy
from tutela.risk.register import acting_officer, latest_signed_off, read_assessment

FORMAT = "tutela-risk-report/1"
DOCUMENT_TYPE = "csa_risk_report"  # Art 5(1)


@dataclass(frozen=True, slots=True)
class ExportedReport:
    service: str
    version: int
    file_bytes: bytes

    @property
    def file_name(self) -> str:
        safe = "".join(c if c.isascii() and c.isalnum() else "-" for c in self.service)[:64]
        return f"risk-report-{safe}-v{self.version}.json"


def export_report(
    database: Database,
    officer: str,
    key: SigningKey,
    provider: ProviderIdentity,
    policy: RiskPolicy,
    *,
    service: str | None = None,
    clock: Clock,
) -> ExportedReport:
    """Sign the Art 5 report of `service`'s newest signed-off assessment; audited as an export."""
    now = clock.now()
    with database.unit_of_work() as session:
        user = acting_officer(session, officer)
        report = report_document(session, provider, policy, service, now)
        signed = sign_report(report.document, key, now)
        record(
            session,
            user_actor(user.id),
            Action.EXPORT,
            Subject("risk_assessment", str(report.assessment_id)),
            {"document": DOCUMENT_TYPE, "key_id": key.key_id, "signed_at": signed.signed_at},
            now=now,
        )
    data = signed_file(FORMAT, signed, key)
    return ExportedReport(report.service, report.version, data)


@dataclass(frozen=True, slots=True)
class ReportDocument:
    """The Art 5 report of one signed-off assessment version, before it is signed."""

    assessment_id: int
    service: str
    version: int
    document: dict[str, Any]


def report_document(
    session: Session,
    provider: ProviderIdentity,
    policy: RiskPolicy,
    service: str | None,
    now: datetime,
) -> ReportDocument:
    """The report of `service`'s newest signed-off version, as exported to a file and as sent
    to the authority node (tutela.compliance.sending); NotFound when there is none."""
    row = latest_signed_off(session, service)
    view = read_assessment(session, row.id, policy, now)
    changes = session.scalars(
        select(RiskChange)
        .where(RiskChange.service == view.service)
        .order_by(RiskChange.recorded_at)
    ).all()
    assert view.signed_off_at is not None and view.reassess_by is not None
    document: dict[str, Any] = {
        "type": DOCUMENT_TYPE,
        "provider": {
            "name": provider.name,
            "legal_representative": provider.legal_representative,
            "point_of_contact": provider.point_of_contact,
            "country": provider.country,
        },
        "service": view.service,
        "version": view.version,
        "based_on_version": view.based_on_version,
        "signed_off_at": view.signed_off_at.isoformat(),
        "signed_off_by": view.signed_off_by,
        "reassess_by": view.reassess_by.isoformat(),
        "summary": view.summary,
        "assessment": view.evaluation.as_dict(),
        "mitigation_measures": [m.as_dict() for m in view.measures],
        "significant_changes": [
            {"recorded_at": c.recorded_at.isoformat(), "description": c.description}
            for c in changes
            if c.recorded_at <= view.signed_off_at
        ],
    }
    return ReportDocument(row.id, view.service, view.version, document)


def check_exportable(database: Database, service: str | None) -> None:
    """NotFound unless `service` has a signed-off version to report, so that callers find that
    out before they load the signing key."""
    with database.reader() as session:
        latest_signed_off(session, service)


def verify_exported(data: bytes, public_key_pem: str | None = None) -> dict[str, Any]:
    """The document of an exported report, if its signature verifies against `public_key_pem`
    (the provider's registered key; the key in the file when None) and names that key."""
    return verify_signed_file(data, FORMAT, public_key_pem, signed_as="report")
