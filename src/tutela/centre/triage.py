"""Triage (Art 48): manifestly unfounded reports go back to the provider with reasons; the rest
go to Europol and the competent national LEA, or to Europol alone when the Member State is
unclear. Urgent reports are taken first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.centre.models import CentreReport, Forwarding, ReportStatus, RoutingRule
from tutela.errors import InvalidInput, NotFound
from tutela.messaging.outbox import enqueue

EUROPOL = "europol"
# Outbox destinations of the centre's messages.
TO_PROVIDER = "provider"
TO_EUROPOL = "europol"
TO_LEA = "lea"


@dataclass(frozen=True, slots=True)
class Assessment:
    report_id: int
    status: str
    recipients: tuple[str, ...]


def next_for_triage(session: Session, limit: int = 50) -> list[CentreReport]:
    """Reports awaiting assessment, urgent ones first (Art 48(1)), then oldest first."""
    return list(
        session.scalars(
            select(CentreReport)
            .where(
                CentreReport.status.in_((ReportStatus.RECEIVED, ReportStatus.INFORMATION_REQUESTED))
            )
            .order_by(CentreReport.urgent.desc(), CentreReport.received_at, CentreReport.id)
            .limit(limit)
        )
    )


def set_routing_rule(session: Session, country: str, recipient: str, now: datetime) -> None:
    """Name the competent LEA for a Member State (ISO 3166 code)."""
    code = country.upper()
    if len(code) != 2 or not code.isalpha():
        raise InvalidInput("a country is a two-letter ISO 3166 code")
    rule = session.scalar(select(RoutingRule).where(RoutingRule.country == code))
    if rule is None:
        session.add(RoutingRule(country=code, recipient=recipient, created_at=now))
    else:
        rule.recipient = recipient


def mark_unfounded(session: Session, report_id: int, reasons: str, now: datetime) -> Assessment:
    """Art 48(2): set the report aside and tell the provider why, through the outbox."""
    if not reasons.strip():
        raise InvalidInput("an unfounded report needs the reasons the provider will be told")
    report = _awaiting(session, report_id)
    report.status, report.assessed_at, report.unfounded_reasons = (
        ReportStatus.UNFOUNDED,
        now,
        reasons,
    )
    tell_provider(session, report, ReportStatus.UNFOUNDED, {"reasons": reasons}, now)
    report.provider_notified_at = now  # queued in this transaction: it will reach the provider
    return Assessment(report.id, ReportStatus.UNFOUNDED, ())


def request_information(
    session: Session, report_id: int, fields: list[str], now: datetime
) -> Assessment:
    """Art 48(1): ask the provider to complete a report before it is assessed."""
    if not fields or not all(isinstance(f, str) and f.strip() for f in fields):
        raise InvalidInput("name the fields the provider should complete")
    report = _awaiting(
        session, report_id, allow=(ReportStatus.RECEIVED, ReportStatus.INFORMATION_REQUESTED)
    )
    report.status, report.information_requested = ReportStatus.INFORMATION_REQUESTED, list(fields)
    tell_provider(
        session, report, ReportStatus.INFORMATION_REQUESTED, {"fields": list(fields)}, now
    )
    return Assessment(report.id, ReportStatus.INFORMATION_REQUESTED, ())


def tell_provider(
    session: Session,
    report: CentreReport,
    kind: str,
    detail: dict[str, object],
    now: datetime,
    key: str | None = None,
) -> None:
    """Queue a message to the report's provider; it names the provider's own idempotency key,
    by which the provider finds its report."""
    enqueue(
        session,
        TO_PROVIDER,
        kind,
        {
            "provider_id": report.provider_id,
            "centre_report_id": report.id,
            "report_key": report.idempotency_key,
            **detail,
        },
        key or f"{kind}-{report.id}",
        now,
    )


def forward_report(session: Session, report_id: int, now: datetime) -> Assessment:
    """Art 48(3): to Europol and the competent LEA of the report's Member State, or to Europol
    alone when no rule names one; each forwarding is recorded (Art 45(2)(c)) and queued."""
    report = _awaiting(session, report_id)
    recipients = [EUROPOL]
    if report.country:
        rule = session.scalar(select(RoutingRule).where(RoutingRule.country == report.country))
        if rule is not None:
            recipients.append(rule.recipient)
    for recipient in recipients:
        destination = TO_EUROPOL if recipient == EUROPOL else TO_LEA
        message = enqueue(
            session,
            destination,
            "report",
            {
                "recipient": recipient,
                "centre_report_id": report.id,
                "urgent": report.urgent,
                # The provider's signed bytes, so the recipient can verify them too.
                "body": report.body,
                "signature": report.signature,
                "key_id": report.key_id,
            },
            f"forward-{report.id}-{recipient}",
            now,
        )
        session.add(
            Forwarding(
                report_id=report.id,
                recipient=recipient,
                forwarded_at=now,
                outbox_message_id=message.id,
            )
        )
    report.status, report.assessed_at = ReportStatus.FORWARDED, now
    # Art 48(6): the provider learns that and when, not to whom.
    tell_provider(session, report, ReportStatus.FORWARDED, {"forwarded_at": now.isoformat()}, now)
    return Assessment(report.id, ReportStatus.FORWARDED, tuple(recipients))


def _awaiting(
    session: Session,
    report_id: int,
    allow: tuple[str, ...] = (ReportStatus.RECEIVED, ReportStatus.INFORMATION_REQUESTED),
) -> CentreReport:
    report = session.get(CentreReport, report_id)
    if report is None:
        raise NotFound(f"no report {report_id}")
    if report.status not in allow:
        raise InvalidInput(f"report {report_id} was already assessed ({report.status})")
    return report
