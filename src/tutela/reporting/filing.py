"""Filing a report: build, check, sign and queue it in the transaction of the decision (Art 12)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from tutela.reporting.fields import ProviderIdentity, ReportInput
from tutela.reporting.outbox import enqueue
from tutela.reporting.report import build_report, require_complete
from tutela.reporting.signing import SigningKey, sign_report
from tutela.reporting.transports.centre import payload_of
from tutela.reporting.transports.ncmec import ncmec_payload

REPORT = "report"


@dataclass(frozen=True, slots=True)
class FiledReport:
    report_id: str
    message_ids: dict[str, int]


def file_report(
    session: Session,
    source: ReportInput,
    provider: ProviderIdentity,
    key: SigningKey,
    now: datetime,
    *,
    destinations: Sequence[str] = ("centre",),
    ncmec_classification: str | None = None,
) -> FiledReport:
    """Queue the report for each destination inside the caller's transaction, so that the
    decision and its report commit together or not at all. Raises IncompleteReport, naming every
    missing field, before anything is queued."""
    report = build_report(source, provider, now)
    require_complete(report)
    report_id = str(report["report_id"])
    signed = sign_report(report, key, now)
    message_ids: dict[str, int] = {}
    for destination in destinations:
        if destination == "ncmec":
            payload = ncmec_payload(report, [source.item.item_id], ncmec_classification)
        else:
            payload = payload_of(signed)
        message = enqueue(session, destination, REPORT, payload, report_id, now)
        message_ids[destination] = message.id
    return FiledReport(report_id, message_ids)
