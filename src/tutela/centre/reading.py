"""Reading the reports the centre received, outside the console: a list by status and one report's
Art 13 fields (never content bytes), each look recorded in the audit log as the console's are."""

from __future__ import annotations

from sqlalchemy import select

from tutela.audit.log import Action, Subject, record
from tutela.centre.models import CentreReport, ReportStatus
from tutela.centre.triage_views import QueueRow, ReportView, queue_rows, report_view
from tutela.db.database import Database
from tutela.errors import InvalidInput

STATUSES = (
    ReportStatus.RECEIVED,
    ReportStatus.INFORMATION_REQUESTED,
    ReportStatus.FORWARDED,
    ReportStatus.UNFOUNDED,
)
MAX_LIST = 1000


def list_received(
    database: Database, reader: str, status: str | None = None, limit: int = 100
) -> list[QueueRow]:
    """Received reports, newest first, optionally of one status."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"a report's status is one of {', '.join(STATUSES)}")
    if not 1 <= limit <= MAX_LIST:
        raise InvalidInput(f"list 1 to {MAX_LIST} reports")
    query = select(CentreReport).order_by(CentreReport.received_at.desc(), CentreReport.id.desc())
    if status is not None:
        query = query.where(CentreReport.status == status)
    with database.unit_of_work() as session:
        rows = queue_rows(session, list(session.scalars(query.limit(limit))))
        details = {"status": status, "count": len(rows)}
        record(session, reader, Action.VIEW, Subject("centre_reports", status or "-"), details)
    return rows


def show_received(database: Database, reader: str, report_id: int) -> ReportView:
    """One report as the triage console shows it."""
    with database.unit_of_work() as session:
        shown = report_view(session, report_id)
        record(session, reader, Action.VIEW, Subject("centre_report", str(report_id)), {})
    return shown
