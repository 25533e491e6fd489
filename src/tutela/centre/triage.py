"""Triage (Art 48): manifestly unfounded reports go back to the provider with reasons; the rest
go to Europol and the competent national LEA, or to Europol alone when the Member State is
unclear. Urgent reports are taken first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.centre.models import CentreReport, Forwarding, RoutingRule
from tutela.errors import InvalidInput, NotFound
from tutela.reporting.outbox import enqueue

RECEIVED, UNFOUNDED, FORWARDED = "received", "unfounded", "forwarded"
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
            .where(CentreReport.status == RECEIVED)
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
    report.status, report.assessed_at, report.unfounded_reasons = UNFOUNDED, now, reasons
    enqueue(
        session,
        TO_PROVIDER,
        "unfounded",
        {
            "provider_id": report.provider_id,
            "report_id": report.id,
            "idempotency_key": report.idempotency_key,
            "reasons": reasons,
        },
        f"unfounded-{report.id}",
        now,
    )
    return Assessment(report.id, UNFOUNDED, ())


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
    report.status, report.assessed_at = FORWARDED, now
    return Assessment(report.id, FORWARDED, tuple(recipients))


def _awaiting(session: Session, report_id: int) -> CentreReport:
    report = session.get(CentreReport, report_id)
    if report is None:
        raise NotFound(f"no report {report_id}")
    if report.status != RECEIVED:
        raise InvalidInput(f"report {report_id} was already assessed ({report.status})")
    return report
