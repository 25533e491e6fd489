"""Recording a statement of reasons for a restriction, inside the transaction of the decision
that restricts (so the decision and its statement stand or fall together), and reading them.

`record_statement` is the one domain entry point: the review decision calls it through
`record_case_statement`; removal orders (tutela.orders) call it with their own `Restriction`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.audit.log import Subject, record
from tutela.db.database import Database
from tutela.enforcement.measure_models import NoticeState, UserNotice
from tutela.enforcement.notices import hold_notice
from tutela.settings import Settings
from tutela.statements.batches import queue_database_copy
from tutela.statements.database_copy import (
    AccountMeasure,
    AutomatedDecision,
    ContentType,
    DatabaseFields,
    Source,
    database_copy,
    new_puid,
)
from tutela.statements.models import DatabaseCopyState, Statement
from tutela.statements.user_copy import user_copy

NOTICE_KIND = "statement_of_reasons"
AUDIT_ACTION = "statement_recorded"
# Art 17(3)(d): the law the content breaks, and why it falls under it.
CSAM_LEGAL_GROUND = (
    "Directive 2011/93/EU, Art 5 (offences concerning child pornography), as transposed in "
    "national law; Regulation (EU) 2022/2065 (DSA), Art 16 and 17"
)
CSAM_EXPLANATION = (
    "The content is child sexual abuse material: possessing, distributing, offering or making "
    "it available is a criminal offence in every Member State."
)


@dataclass(frozen=True, slots=True)
class Restriction:
    """What a decision restricted and why. `decision_ref` names the decision (one statement per
    decision: a second call with the same ref returns the first statement). Texts are fixed
    sentences chosen by the caller, never user input: the database's copy must hold no
    personal data (DSA Art 24(5))."""

    decision_ref: str
    item_id: int  # the item's row id here
    item_ref: str  # the platform's id of the item: the user's copy only
    case_id: int | None
    content_type: ContentType
    content_date: date
    account: AccountMeasure | None
    source: Source
    automated_detection: bool
    automated_decision: AutomatedDecision
    facts: str
    legal_ground: str = CSAM_LEGAL_GROUND
    explanation: str = CSAM_EXPLANATION
    # A held notice of the same decision the statement joins (one notice tells the user all).
    notice_id: int | None = None


@dataclass(frozen=True, slots=True)
class StatementView:
    id: int
    puid: str
    decision_ref: str
    case_id: int | None
    notice_id: int | None
    database_state: str
    outbox_message_id: int | None
    user_copy: dict[str, Any]
    database_copy: dict[str, Any]
    created_at: datetime

    def as_dict(self) -> dict[str, object]:
        """The short form a decision's effects and the audit log keep."""
        return {
            "id": self.id,
            "puid": self.puid,
            "notice_id": self.notice_id,
            "database": self.database_state,
        }


def record_statement(
    session: Session,
    restriction: Restriction,
    *,
    settings: Settings,
    actor: str,
    now: datetime,
) -> StatementView:
    """Make the statement of a restriction, inside the caller's transaction: the user's copy as
    a user notice held through the silence period (Art 12(2); an authority's hold keeps it
    longer), the database's copy queued for the `dsa-tdb` transport when TUTELA_DSA_TDB_URL is
    set. Audited. The user's copy joins the decision's own held notice when the restriction
    names one, else gets a notice of its own; notices belong to cases, so without a case it is
    kept on the statement only, for the caller to deliver."""
    existing = session.scalar(
        select(Statement).where(Statement.decision_ref == restriction.decision_ref)
    )
    if existing is not None:
        return view_of(existing)
    fields = DatabaseFields(
        puid=new_puid(),
        content_type=restriction.content_type,
        content_date=restriction.content_date,
        application_date=now.date(),
        account=restriction.account,
        source=restriction.source,
        automated_detection=restriction.automated_detection,
        automated_decision=restriction.automated_decision,
        facts=restriction.facts,
        legal_ground=restriction.legal_ground,
        explanation=restriction.explanation,
    )
    for_user = user_copy(fields, restriction.item_ref, now)
    for_database = database_copy(fields)
    row = Statement(
        puid=fields.puid,
        decision_ref=restriction.decision_ref,
        case_id=restriction.case_id,
        item_id=restriction.item_id,
        user_copy=for_user,
        database_copy=for_database,
        database_state=DatabaseCopyState.NOT_CONFIGURED.value,
        created_at=now,
    )
    joined = (
        session.get(UserNotice, restriction.notice_id, with_for_update=True)
        if restriction.notice_id is not None
        else None
    )
    if joined is not None and joined.state == NoticeState.HELD:
        # A new dict: the JSON column notices a replaced value, not an edited one.
        joined.body = {**joined.body, "statement_of_reasons": for_user}
        row.notice_id = joined.id
    elif restriction.case_id is not None:
        notice = hold_notice(
            session,
            case_id=restriction.case_id,
            item_id=restriction.item_id,
            item_ref=restriction.item_ref,
            kind=NOTICE_KIND,
            body={"item_id": restriction.item_ref, "statement_of_reasons": for_user},
            now=now,
            silence_months=settings.notice_silence_months,
        )
        row.notice_id = notice.id
    if settings.dsa_tdb_url:
        message = queue_database_copy(session, for_database, now)
        row.database_state = DatabaseCopyState.QUEUED.value
        row.outbox_message_id = message.id
    session.add(row)
    session.flush()
    subject = (
        Subject("case", str(restriction.case_id))
        if restriction.case_id is not None
        else Subject("statement", str(row.id))
    )
    view = view_of(row)
    record(session, actor, AUDIT_ACTION, subject, {"statement": view.as_dict()}, now=now)
    return view


def statements_of_case(database: Database, case_id: int) -> list[StatementView]:
    with database.reader() as session:
        rows = session.scalars(
            select(Statement).where(Statement.case_id == case_id).order_by(Statement.id)
        )
        return [view_of(row) for row in rows]


def view_of(row: Statement) -> StatementView:
    return StatementView(
        row.id,
        row.puid,
        row.decision_ref,
        row.case_id,
        row.notice_id,
        row.database_state,
        row.outbox_message_id,
        dict(row.user_copy),
        dict(row.database_copy),
        row.created_at,
    )
