"""The centre's decisions on received reports, as services `(database, actor, …)`: each resolves
the acting account and its permission, runs in its own unit of work and writes one audit entry
naming the account, in the transaction of the act itself (DESIGN ground rule 3). The command line
and the triage console call the same functions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from tutela.audit.log import Action, Subject, record
from tutela.auth.actors import acting_account
from tutela.auth.roles import Permission
from tutela.centre.holds import request_hold
from tutela.centre.indicators import Confirmed, confirm_indicator
from tutela.centre.models import ReportStatus
from tutela.centre.triage import Assessment, forward_report, mark_unfounded
from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.indicators.variants import Variants

FORWARD = "forward"
CONFIRM_INDICATOR = "confirm_indicator"
HOLD = "hold"


def report_subject(report_id: int) -> Subject:
    return Subject("centre_report", str(report_id))


def forward(
    database: Database, actor: str, report_id: int, *, now: datetime | None = None
) -> Assessment:
    """Art 48(3): forward to Europol and the competent LEA, by the routing rules."""
    now = now or utc_now()
    with database.unit_of_work() as session:
        account = acting_account(session, actor, Permission.TRIAGE)
        assessment = forward_report(session, report_id, now)
        details = {"decision": FORWARD, "recipients": list(assessment.recipients)}
        record(session, account.actor, Action.DECISION, report_subject(report_id), details, now=now)
    return assessment


def set_aside_as_unfounded(
    database: Database, actor: str, report_id: int, reasons: str, *, now: datetime | None = None
) -> Assessment:
    """Art 48(2): set a manifestly unfounded report aside; the provider is told the reasons."""
    now = now or utc_now()
    with database.unit_of_work() as session:
        account = acting_account(session, actor, Permission.TRIAGE)
        assessment = mark_unfounded(session, report_id, reasons, now)
        details = {"decision": ReportStatus.UNFOUNDED, "reasons": reasons}
        record(session, account.actor, Action.DECISION, report_subject(report_id), details, now=now)
    return assessment


def pass_on_hold(
    database: Database,
    actor: str,
    report_id: int,
    authority: str,
    *,
    no_user_notice: bool,
    no_removal: bool,
    until: datetime,
    max_days: int,
    now: datetime | None = None,
) -> datetime:
    """Art 48(6)-(7): pass an authority's hold on notice and/or removal to the provider."""
    now = now or utc_now()
    with database.unit_of_work() as session:
        account = acting_account(session, actor, Permission.TRIAGE)
        end = request_hold(
            session,
            report_id,
            authority,
            no_user_notice=no_user_notice,
            no_removal=no_removal,
            until=until,
            now=now,
            max_days=max_days,
        )
        details = {
            "decision": HOLD,
            "authority": authority,
            "no_user_notice": no_user_notice,
            "no_removal": no_removal,
            "until": end.isoformat(),
        }
        record(session, account.actor, Action.DECISION, report_subject(report_id), details, now=now)
    return end


def confirm_indicators(
    database: Database,
    actor: str,
    report_id: int,
    authority_confirmation: str,
    *,
    now: datetime | None = None,
    variants: Mapping[str, Variants] | None = None,
) -> Confirmed:
    """Art 44(3): make indicators of the report's hashes, on a national authority's
    confirmation, by a senior analyst, whose name the generation record keeps; `variants`: the
    confirmed image's crops, by its PDQ (tutela.centre.indicators.confirm_indicator)."""
    now = now or utc_now()
    with database.unit_of_work() as session:
        account = acting_account(session, actor, Permission.CONFIRM_INDICATOR)
        confirmed = confirm_indicator(
            session,
            report_id,
            account.name,
            now,
            authority_confirmation=authority_confirmation,
            variants=variants,
        )
        details = {
            "decision": CONFIRM_INDICATOR,
            "authority_confirmation": authority_confirmation,
            "indicator_ids": list(confirmed.indicator_ids),
        }
        record(session, account.actor, Action.DECISION, report_subject(report_id), details, now=now)
    return confirmed
