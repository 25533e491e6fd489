"""Settling a CyberTipline report whose answer to `/submit` was lost: the reports in that state,
and a person's answer for one of them (NCMEC holds it as report N, or holds nothing), audited.

Such a report is `submitting` and its outbox message has failed (the transport stops rather than
risk a second report at NCMEC). The API offers no way to ask NCMEC, so a person who can see
NCMEC's side looks the report up by the time of the submit and the reported account, and says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from tutela.audit.log import Subject, record
from tutela.auth.actors import acting_account
from tutela.auth.roles import Permission
from tutela.errors import Conflict, InvalidInput, NotFound
from tutela.messaging.outbox import requeue
from tutela.messaging.outbox_models import MessageStatus, OutboxMessage
from tutela.reporting.transports.ncmec import NcmecTransport
from tutela.reporting.transports.ncmec_models import NcmecReport, NcmecReportState

# The audit action of a settlement (a plug-in's own action name; see tutela.audit.log.Action).
SETTLE_ACTION = "ncmec_submit_settled"
# CyberTipline report ids are numbers; anything else is a typing slip.
REPORT_ID = re.compile(r"^[0-9]{1,32}$")
OPERATOR_MAX = 100


@dataclass(frozen=True, slots=True)
class UncertainSubmit:
    """What an operator needs to find the report on NCMEC's side, and to settle it here."""

    id: int  # the local NCMEC report, the argument of the settlement
    message_id: int  # its outbox message
    transport: str
    report: str  # Tutela's report id (the outbox idempotency key)
    submitted_at: datetime  # when /submit was sent
    reported_account: str | None  # NCMEC shows it as the report's espIdentifier

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "message_id": self.message_id,
            "transport": self.transport,
            "report": self.report,
            "submitted_at": self.submitted_at.isoformat(),
            "reported_account": self.reported_account,
        }


@dataclass(frozen=True, slots=True)
class Settlement:
    submit: UncertainSubmit
    # The CyberTipline report id when NCMEC holds the report; None when it holds none.
    ncmec_report_id: str | None


def uncertain_submits(session: Session) -> list[UncertainSubmit]:
    """Every report whose /submit may or may not have created a report at NCMEC, oldest first."""
    rows = session.execute(_uncertain().order_by(NcmecReport.updated_at, NcmecReport.id)).all()
    return [_view(report, message) for report, message in rows]


def settle_uncertain_submit(
    session: Session,
    ncmec_report: int,
    ncmec_report_id: str | None,
    *,
    by: str,
    now: datetime,
    via: str | None = None,
) -> Settlement:
    """A person's answer, inside the caller's transaction: NCMEC holds the report as
    `ncmec_report_id` (it is recorded and the delivery resumes with the file uploads), or None:
    NCMEC holds nothing (the next delivery submits afresh). Either way the outbox message is
    queued again and the audit log names the account `by`, which must be an active account
    allowed to export reports (a compliance officer), and `via` (e.g. the system user that ran
    the command).

    Raises NotFound for an unknown report, Conflict for one that is not awaiting a settlement or
    for a report id another report already holds, InvalidInput for a malformed id or name,
    Unauthorized or Forbidden when `by` is no such account or may not settle reports.
    """
    operator = by.strip()
    if not operator or len(operator) > OPERATOR_MAX:
        raise InvalidInput(f"name who settles the report (1-{OPERATOR_MAX} characters)")
    account = acting_account(session, operator, Permission.EXPORT)
    if ncmec_report_id is not None and not REPORT_ID.match(ncmec_report_id):
        raise InvalidInput(
            f"a CyberTipline report id is a number, as NCMEC shows it: {ncmec_report_id!r}"
        )
    # Locked, so that two people settling the same report at once cannot both succeed.
    report = session.scalar(
        select(NcmecReport).where(NcmecReport.id == ncmec_report).with_for_update()
    )
    if report is None:
        raise NotFound(f"no NCMEC report {ncmec_report}")
    found = session.execute(_uncertain().where(NcmecReport.id == ncmec_report)).first()
    if found is None:
        raise Conflict(_not_uncertain(report))
    submit = _view(*found)
    if ncmec_report_id is not None:
        holder = session.scalar(
            select(NcmecReport.id).where(
                NcmecReport.report_id == ncmec_report_id, NcmecReport.id != report.id
            )
        )
        if holder is not None:
            raise Conflict(
                f"CyberTipline report {ncmec_report_id} is already recorded for NCMEC report "
                f"{holder}; check the id on NCMEC's side"
            )
    report.report_id = ncmec_report_id
    report.state = NcmecReportState.SUBMITTED if ncmec_report_id else NcmecReportState.NEW
    report.updated_at = now
    requeue(session, submit.message_id, now)
    record(
        session,
        account.actor,
        SETTLE_ACTION,
        Subject("ncmec_report", str(report.id)),
        {
            "outcome": "exists" if ncmec_report_id else "absent",
            "ncmec_report_id": ncmec_report_id,
            "message_id": submit.message_id,
            "report": submit.report,
            "submitted_at": submit.submitted_at.isoformat(),
            "by": account.name,
            "via": via,
        },
        now=now,
    )
    return Settlement(submit, ncmec_report_id)


def _uncertain() -> Select[NcmecReport, OutboxMessage]:
    return (
        select(NcmecReport, OutboxMessage)
        .join(
            OutboxMessage,
            (OutboxMessage.idempotency_key == NcmecReport.message_key)
            & (OutboxMessage.destination == NcmecTransport.name),
        )
        .where(
            NcmecReport.state == NcmecReportState.SUBMITTING,
            OutboxMessage.status == MessageStatus.FAILED,
        )
    )


def _view(report: NcmecReport, message: OutboxMessage) -> UncertainSubmit:
    return UncertainSubmit(
        id=report.id,
        message_id=message.id,
        transport=message.destination,
        report=report.message_key,
        submitted_at=report.updated_at,
        reported_account=report.account_id,
    )


def _not_uncertain(report: NcmecReport) -> str:
    if report.state != NcmecReportState.SUBMITTING:
        return (
            f"NCMEC report {report.id} is {report.state}, not awaiting a settlement: only a "
            "report whose answer to /submit was lost can be settled"
        )
    # Submitting, but its message has not failed yet: a sender may be submitting it right now,
    # or (its sender died) the next delivery will stop it and then it can be settled.
    return (
        f"NCMEC report {report.id} is being submitted or not yet stopped by the outbox; try "
        "again once `tutela outbox ncmec uncertain` lists it"
    )
