"""An authority's hold on a forwarded report (Art 48(6)-(7)): the provider must not tell the user,
or not remove the item, for the time the authority names, at most 18 months."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.centre.models import CentreReport, Forwarding
from tutela.centre.triage import tell_provider
from tutela.errors import InvalidInput, NotFound

HOLD = "hold"


def request_hold(
    session: Session,
    report_id: int,
    authority: str,
    *,
    no_user_notice: bool,
    no_removal: bool,
    until: datetime,
    now: datetime,
    max_days: int,
) -> datetime:
    """Record the authority's request and queue it to the provider; return the hold's end.
    Only an authority the report was forwarded to may ask (Art 48(6))."""
    if not (no_user_notice or no_removal):
        raise InvalidInput("a hold holds back notification, removal, or both")
    if until.tzinfo is None or until <= now:
        raise InvalidInput("a hold ends at a future time with a time zone")
    if until > now + timedelta(days=max_days):
        raise InvalidInput(f"a hold lasts at most {max_days} days (Art 48(7))")
    report = session.get(CentreReport, report_id)
    if report is None:
        raise NotFound(f"no report {report_id}")
    forwarded_to = set(
        session.scalars(select(Forwarding.recipient).where(Forwarding.report_id == report_id))
    )
    if authority not in forwarded_to:
        raise InvalidInput(f"report {report_id} was not forwarded to {authority}")
    detail: dict[str, object] = {
        "authority": authority,
        "no_user_notice": no_user_notice,
        "no_removal": no_removal,
        "until": until.isoformat(),
    }
    key = f"hold-{report_id}-{authority}-{int(now.timestamp())}"
    tell_provider(session, report, HOLD, detail, now, key=key)
    return until
