"""What the centre's analysts see of received reports: the triage queue and one report's Art 13
fields, its incident and whether its hashes are already the centre's own indicators. Content
bytes a report may carry (`content.files`) are never part of a view: only how many there are."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from tutela.centre.models import (
    CentreIndicator,
    CentreProvider,
    CentreReport,
    CentreReportHash,
    Forwarding,
    ReportStatus,
)
from tutela.centre.triage import next_for_triage
from tutela.errors import NotFound

# Sections of a signed report an analyst reads, in the order the page shows them (Art 13(1)).
SECTIONS = (
    ("metadata", "Content metadata (Art 13(1)(d))"),
    ("location", "Upload time and place (Art 13(1)(f))"),
    ("users", "Users concerned (Art 13(1)(g))"),
    ("removal", "Removal (Art 13(1)(h))"),
    ("matches", "Indicator matches at the provider"),
    ("decision", "Provider's decision"),
    ("reported_elsewhere", "Reported elsewhere (Art 13(1)(j))"),
    ("account_measures", "Account measures"),
    ("victim_identifiers", "Victim identifiers"),
)


@dataclass(frozen=True, slots=True)
class QueueRow:
    report_id: int
    provider: str
    kind: str
    urgent: bool
    received_at: datetime
    incident_id: int | None
    incident_size: int
    status: str


@dataclass(frozen=True, slots=True)
class LinkedReport:
    report_id: int
    provider: str
    kind: str
    status: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class OmittedFileView:
    media_type: str
    size: int | None
    sha256: str
    reason: str
    limit: int | None

    @property
    def explanation(self) -> str:
        """The reason as a sentence for the triage page."""
        if self.reason == "too_large":
            over = f" (over {_mib(self.limit)})" if self.limit is not None else ""
            return f"too large to attach to the report{over}; the provider keeps it (Art 22)"
        return self.reason.replace("_", " ")

    @property
    def size_text(self) -> str:
        return _mib(self.size) if self.size is not None else "size not given"


@dataclass(frozen=True, slots=True)
class ReportView:
    report_id: int
    report_uid: str
    provider: str
    provider_declared: dict[str, Any]
    key_id: str
    signed_at: str
    created_at: str
    received_at: datetime
    kind: str
    urgent: bool
    urgency_reason: str
    country: str | None
    status: str
    awaiting: bool
    assessed_at: datetime | None
    unfounded_reasons: str | None
    legal_basis: str
    awareness: str
    hashes: tuple[tuple[str, str], ...]
    files_withheld: int
    # Files the report says it leaves out (content.omitted): type, size, SHA-256 and why.
    files_omitted: tuple[OmittedFileView, ...]
    sections: tuple[tuple[str, Any], ...]
    free_text: str
    incident_id: int | None
    linked: tuple[LinkedReport, ...]
    own_indicators: tuple[tuple[int, str, str], ...]
    forwarded_to: tuple[str, ...]
    tags: tuple[str, ...]


def triage_queue(session: Session, limit: int = 200) -> list[QueueRow]:
    """Reports awaiting assessment, urgent first, then oldest (as `next_for_triage`)."""
    return queue_rows(session, next_for_triage(session, limit))


def queue_rows(session: Session, reports: list[CentreReport]) -> list[QueueRow]:
    """Reports as rows of a list: provider's name and the size of each one's incident."""
    providers = _provider_names(session, {r.provider_id for r in reports})
    sizes = _incident_sizes(session, {r.incident_id for r in reports if r.incident_id})
    return [
        QueueRow(
            r.id,
            providers.get(r.provider_id, "?"),
            r.kind,
            r.urgent,
            r.received_at,
            r.incident_id,
            sizes.get(r.incident_id, 1) if r.incident_id else 1,
            r.status,
        )
        for r in reports
    ]


def report_view(session: Session, report_id: int) -> ReportView:
    report = session.get(CentreReport, report_id)
    if report is None:
        raise NotFound(f"no report {report_id}")
    body: dict[str, Any] = json.loads(report.body)
    content = body.get("content") or {}
    hashes = tuple(
        (str(h.get("signal_type")), str(h.get("value"))) for h in content.get("hashes") or ()
    )
    urgency = body.get("urgency") or {}
    return ReportView(
        report_id=report.id,
        report_uid=report.report_uid,
        provider=_provider_names(session, {report.provider_id}).get(report.provider_id, "?"),
        provider_declared=dict(body.get("provider") or {}),
        key_id=report.key_id,
        signed_at=report.signed_at,
        created_at=str(body.get("created_at", "")),
        received_at=report.received_at,
        kind=report.kind,
        urgent=report.urgent,
        urgency_reason=str(urgency.get("reason") or ""),
        country=report.country,
        status=report.status,
        awaiting=report.status in (ReportStatus.RECEIVED, ReportStatus.INFORMATION_REQUESTED),
        assessed_at=report.assessed_at,
        unfounded_reasons=report.unfounded_reasons,
        legal_basis=str(body.get("legal_basis", "")),
        awareness=str(body.get("awareness", "")),
        hashes=hashes,
        # Never shown: the page says only that the report carries files, and how many.
        files_withheld=len(content.get("files") or ()),
        files_omitted=tuple(_omitted(e) for e in content.get("omitted") or ()),
        sections=tuple((label, body[key]) for key, label in SECTIONS if body.get(key)),
        free_text=str(body.get("free_text") or ""),
        incident_id=report.incident_id,
        linked=_linked(session, report),
        own_indicators=_own_indicators(session, report.id),
        forwarded_to=tuple(
            session.scalars(
                select(Forwarding.recipient)
                .where(Forwarding.report_id == report.id)
                .order_by(Forwarding.id)
            )
        ),
        tags=tuple(report.tags or ()),
    )


def _provider_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(CentreProvider.id, CentreProvider.name).where(CentreProvider.id.in_(ids))
    )
    return {row.id: row.name for row in rows}


def _incident_sizes(session: Session, ids: set[int | None]) -> dict[int | None, int]:
    if not ids:
        return {}
    rows = session.execute(
        select(CentreReport.incident_id, func.count())
        .where(CentreReport.incident_id.in_(ids))
        .group_by(CentreReport.incident_id)
    )
    return {row[0]: int(row[1]) for row in rows}


def _linked(session: Session, report: CentreReport) -> tuple[LinkedReport, ...]:
    """The other reports of the same material (its incident), from any provider."""
    if report.incident_id is None:
        return ()
    others = list(
        session.scalars(
            select(CentreReport)
            .where(CentreReport.incident_id == report.incident_id, CentreReport.id != report.id)
            .order_by(CentreReport.received_at, CentreReport.id)
            .limit(100)
        )
    )
    names = _provider_names(session, {o.provider_id for o in others})
    return tuple(
        LinkedReport(o.id, names.get(o.provider_id, "?"), o.kind, o.status, o.received_at)
        for o in others
    )


def _own_indicators(session: Session, report_id: int) -> tuple[tuple[int, str, str], ...]:
    """Active indicators of the centre's own database that equal one of the report's hashes."""
    pairs = select(CentreReportHash.signal_type, CentreReportHash.value).where(
        CentreReportHash.report_id == report_id
    )
    rows = session.execute(
        select(CentreIndicator.id, CentreIndicator.signal_type, CentreIndicator.value)
        .where(
            CentreIndicator.active,
            tuple_(CentreIndicator.signal_type, CentreIndicator.value).in_(pairs),
        )
        .order_by(CentreIndicator.id)
    )
    return tuple((row.id, row.signal_type, row.value) for row in rows)


def _omitted(entry: dict[str, Any]) -> OmittedFileView:
    """One entry of content.omitted, as checked at intake (tutela.centre.report_shape)."""
    size, limit = entry.get("size"), entry.get("limit")
    return OmittedFileView(
        media_type=str(entry.get("media_type", "")),
        size=size if isinstance(size, int) else None,
        sha256=str(entry.get("sha256") or ""),
        reason=str(entry.get("reason", "")),
        limit=limit if isinstance(limit, int) else None,
    )


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"
