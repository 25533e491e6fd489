"""Filing a report: build, check, sign and queue it in the transaction of the decision (Art 12)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from tutela.errors import ConfigurationError
from tutela.messaging.outbox import enqueue
from tutela.messaging.signing import SigningKey, sign_report
from tutela.reporting.fields import ProviderIdentity, ReportInput
from tutela.reporting.report import build_report, require_complete, signable
from tutela.reporting.transports.centre import payload_of
from tutela.reporting.transports.ncmec import ncmec_payload

REPORT = "report"
NCMEC = "ncmec"


@dataclass(frozen=True, slots=True)
class FiledReport:
    report_id: str
    message_ids: dict[str, int]


def file_report(
    session: Session,
    source: ReportInput,
    provider: ProviderIdentity,
    key: SigningKey | None,
    now: datetime,
    *,
    destinations: Sequence[str] = ("centre",),
    ncmec_classification: str | None = None,
) -> FiledReport:
    """Queue the report for each destination inside the caller's transaction, so that the
    decision and its report commit together or not at all. Raises IncompleteReport, naming every
    missing field, before anything is queued.

    The report is signed with `key` for every destination but `ncmec`, whose API takes the
    report's fields as XML over an authenticated session instead; `key` may be None for that
    one alone."""
    report = build_report(source, provider, now)
    require_complete(report)
    report_id = str(report["report_id"])
    signed = None
    if any(destination != NCMEC for destination in destinations):
        if key is None:
            raise ConfigurationError("reports to the EU Centre are signed: no signing key given")
        signed = sign_report(signable(report), key, now)
    message_ids: dict[str, int] = {}
    for destination in destinations:
        if destination == NCMEC:
            payload = ncmec_payload(report, [source.item.item_ref], ncmec_classification)
        else:
            assert signed is not None  # signed above for every destination but NCMEC
            payload = payload_of(signed)
        message = enqueue(session, destination, REPORT, payload, report_id, now)
        message_ids[destination] = message.id
    return FiledReport(report_id, message_ids)
