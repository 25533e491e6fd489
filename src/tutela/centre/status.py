"""What a provider may learn of its own report: where it stands, and why if unfounded."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from tutela.centre.models import CentreReport, Forwarding
from tutela.centre.providers import MAX_SKEW, verify_signed_request
from tutela.db.database import Database
from tutela.errors import NotFound


def report_status(
    database: Database,
    key_id: str,
    signature: str,
    timestamp: str,
    path: str,
    report_id: int,
    now: datetime,
    max_skew: timedelta = MAX_SKEW,
) -> dict[str, object]:
    """The status of one of the caller's reports; another provider's report is "not found"."""
    with database.reader() as session:
        provider = verify_signed_request(
            session, key_id, signature, timestamp, "GET", path, now, max_skew
        )
        report = session.get(CentreReport, report_id)
        if report is None or report.provider_id != provider.id:
            raise NotFound(f"no report {report_id}")
        forwarded = session.scalars(
            select(Forwarding.forwarded_at).where(Forwarding.report_id == report.id)
        ).all()
        return {
            "id": report.id,
            "report_id": report.report_uid,
            "status": report.status,
            "received_at": report.received_at.isoformat(),
            "assessed_at": report.assessed_at.isoformat() if report.assessed_at else None,
            "unfounded_reasons": report.unfounded_reasons,
            # Art 48(6): the recipients may ask for silence; the provider learns only "when".
            "forwarded_at": min(forwarded).isoformat() if forwarded else None,
        }
