"""Art 83(3): the centre's yearly figures, counted by SQL over its reports database, incidents,
forwardings, indicators and victims' requests. Providers appear by their registered (legal)
name; no user, reporter, analyst or victim appears anywhere.

What counts where:
- a report counts in the year it was received; a *duplicate* is a report whose incident already
  held an earlier report (the same material, reported again by anyone);
- *forwarded* and *unfounded* are the reports' assessment as it stands now;
- *victims helped* are the victims' requests of the year that found at least one report."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from tutela.centre.models import (
    CentreIndicator,
    CentreProvider,
    CentreReport,
    Forwarding,
    ReportStatus,
)
from tutela.centre.triage import EUROPOL
from tutela.centre.victim_models import VictimRequest
from tutela.transparency.periods import Year

UNKNOWN_COUNTRY = "unknown"


def centre_figures(session: Session, year: Year) -> dict[str, Any]:
    return {
        "kind": "centre",
        "year": year.year,
        "regulation": "Regulation (EU) on child sexual abuse, Art 83(3)",
        "reports": _reports(session, year),
        "forwardings": _forwardings(session, year),
        "indicators": _indicators(session, year),
        "victims": _victims(session, year),
    }


def _reports(session: Session, year: Year) -> dict[str, Any]:
    in_year = and_(CentreReport.received_at >= year.start, CentreReport.received_at < year.end)

    def grouped(column: Any) -> dict[str, int]:
        rows = session.execute(
            select(column, func.count())
            .select_from(CentreReport)
            .join(CentreProvider, CentreProvider.id == CentreReport.provider_id)
            .where(in_year)
            .group_by(column)
        ).all()
        return {
            str(k) if k is not None else UNKNOWN_COUNTRY: int(n)
            for k, n in sorted(rows, key=lambda r: (r[0] is None, str(r[0])))
        }

    earlier = aliased(CentreReport)
    duplicate = exists().where(
        earlier.incident_id == CentreReport.incident_id, earlier.id < CentreReport.id
    )
    total = session.scalar(select(func.count()).select_from(CentreReport).where(in_year)) or 0
    by_status = grouped(CentreReport.status)
    return {
        "received": int(total),
        "by_provider": grouped(CentreProvider.name),
        "by_member_state": grouped(CentreReport.country),
        "by_kind": {k: v for k, v in grouped(CentreReport.kind).items()},
        "urgent": _count(session, and_(in_year, CentreReport.urgent)),
        "unfounded": by_status.get(ReportStatus.UNFOUNDED, 0),
        "forwarded": by_status.get(ReportStatus.FORWARDED, 0),
        "awaiting_assessment": int(total)
        - by_status.get(ReportStatus.UNFOUNDED, 0)
        - by_status.get(ReportStatus.FORWARDED, 0),
        "duplicates": _count(
            session, and_(in_year, CentreReport.incident_id.is_not(None), duplicate)
        ),
        "removed_by_provider": _count(session, and_(in_year, CentreReport.removed.is_(True))),
    }


def _count(session: Session, where: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(CentreReport).where(where)) or 0)


def _forwardings(session: Session, year: Year) -> dict[str, int]:
    rows = session.execute(
        select(Forwarding.recipient, func.count())
        .where(Forwarding.forwarded_at >= year.start, Forwarding.forwarded_at < year.end)
        .group_by(Forwarding.recipient)
    ).all()
    # By kind only: which LEA a report went to is not for publication.
    europol = sum(int(n) for recipient, n in rows if recipient == EUROPOL)
    return {"europol": europol, "law_enforcement": sum(int(n) for _, n in rows) - europol}


def _indicators(session: Session, year: Year) -> dict[str, Any]:
    added = session.execute(
        select(CentreIndicator.signal_type, func.count())
        .where(CentreIndicator.confirmed_at >= year.start, CentreIndicator.confirmed_at < year.end)
        .group_by(CentreIndicator.signal_type)
        .order_by(CentreIndicator.signal_type)
    ).all()
    withdrawn = session.scalar(
        select(func.count())
        .select_from(CentreIndicator)
        .where(CentreIndicator.withdrawn_at >= year.start, CentreIndicator.withdrawn_at < year.end)
    )
    # In force at the year's end: confirmed before it, not withdrawn before it.
    in_force = session.scalar(
        select(func.count())
        .select_from(CentreIndicator)
        .where(
            CentreIndicator.confirmed_at < year.end,
            (CentreIndicator.withdrawn_at.is_(None)) | (CentreIndicator.withdrawn_at >= year.end),
        )
    )
    return {
        "added_by_signal_type": {str(k): int(n) for k, n in added},
        "withdrawn": int(withdrawn or 0),
        "in_force_at_year_end": int(in_force or 0),
    }


def _victims(session: Session, year: Year) -> dict[str, int]:
    in_year = and_(VictimRequest.received_at >= year.start, VictimRequest.received_at < year.end)
    requests, helped, asked = session.execute(
        select(
            func.count(),
            func.count().filter(VictimRequest.matched_reports > 0),
            func.coalesce(func.sum(VictimRequest.removal_requests), 0),
        ).where(in_year)
    ).one()
    return {
        "requests": int(requests),
        "helped": int(helped),
        "removal_requests_to_providers": int(asked),
    }
