"""Deciding a case: only a person with the right role decides (DESIGN rule 3), every decision is
audited, and a confirmation sets its measures in motion in the same transaction.

    decision       from open / second_review            from escalated (senior only)
    confirm_known  confirmed (or second_review, 4-eyes)  confirmed (or second_review, 4-eyes)
    confirm_new    the same, reported as new material    the same
    not_abuse      dismissed; matched values safelisted  dismissed; matched values safelisted
                   (escalated instead when it contradicts a confirmation)
    escalate       escalated                             refused: already with a senior
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tutela.audit.log import Action, Subject, record, user_actor
from tutela.auth.actors import Account, acting_account
from tutela.auth.roles import Permission, require_permission
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.detection.held_payloads import is_held
from tutela.detection.models import UNDECIDED, Case, CaseState, Item, ItemMatch, ItemPayload
from tutela.detection.safelist import insert_safe_entry
from tutela.enforcement.vault import Vault
from tutela.errors import Conflict, InvalidInput, NotFound
from tutela.messaging.signing import default_key_file, load_key_file
from tutela.reporting.fields import Kind
from tutela.review.case_statements import record_case_statement
from tutela.review.confirmation import Instruments, carry_out
from tutela.review.models import ReviewDecision
from tutela.review.report_choices import ReportChoices
from tutela.review.signal_values import signal_values
from tutela.settings import Settings

NOTE_MAX = 2000


class Decision(StrEnum):
    CONFIRM_KNOWN = "confirm_known"
    CONFIRM_NEW = "confirm_new"
    NOT_ABUSE = "not_abuse"
    ESCALATE = "escalate"


CONFIRMATIONS = frozenset({Decision.CONFIRM_KNOWN, Decision.CONFIRM_NEW})
# Art 13(1)(e): which kind the report names.
KIND_OF = {Decision.CONFIRM_KNOWN: Kind.KNOWN, Decision.CONFIRM_NEW: Kind.NEW}


@dataclass(frozen=True, slots=True)
class DecisionView:
    id: int
    case_id: int
    reviewer: str
    decision: Decision
    status: str  # the case's status after the decision
    final: bool  # whether the case is now closed (its measures, if any, are under way)
    effects: dict[str, Any]
    decided_at: datetime

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "case_id": self.case_id,
            "reviewer": self.reviewer,
            "decision": self.decision.value,
            "status": self.status,
            "final": self.final,
            "effects": self.effects,
            "decided_at": self.decided_at.isoformat(),
        }


def decide(
    database: Database,
    case_id: int,
    reviewer: str,
    decision: Decision,
    *,
    settings: Settings,
    note: str = "",
    clock: Clock | None = None,
    choices: ReportChoices | None = None,
) -> DecisionView:
    """Record `reviewer`'s (a user name) decision on a case, and carry out what it leads to.

    `choices` are the reviewer's answers for the report and the platform (urgency, awareness,
    account action, other reports: Art 13(1)(h),(j), Annex III); only a confirmation uses them,
    and the defaults say: not urgent, awareness as the item came, suspend the account.

    Unauthorized when no active account has that name; Forbidden without the role; Conflict when the case is already decided, or when the same
    person tries to be both pairs of eyes; ConfigurationError when a confirmation needs the vault
    key or the report signing key and it is missing (nothing is recorded then).
    """
    decision = Decision(decision)
    if len(note) > NOTE_MAX:
        raise InvalidInput(f"a note is at most {NOTE_MAX} characters")
    clock = clock or SystemClock()
    now = clock.now()
    tools = _instruments(database, case_id, decision, settings, clock)
    with database.unit_of_work() as session:
        # Every reviewer holds `review`; an escalated case needs more (_check_may_decide).
        user = acting_account(session, reviewer, Permission.REVIEW)
        case = session.get(Case, case_id, with_for_update=True)
        if case is None:
            raise NotFound(f"no case {case_id}")
        item = session.get(Item, case.item_id)
        if item is None:
            raise NotFound(f"case {case_id} has lost its item")
        _check_may_decide(session, case, user, decision)
        status, effects = _apply(
            session, case, item, user, decision, now, tools, choices or ReportChoices()
        )
        if status == CaseState.CONFIRMED:
            # DSA Art 17: the restriction and its statement of reasons commit together.
            chosen = choices or ReportChoices()
            effects["statement"] = record_case_statement(
                session,
                case,
                item,
                known=decision == Decision.CONFIRM_KNOWN,
                account_action=chosen.account_action,
                awareness=chosen.awareness,
                settings=settings,
                actor=user_actor(user.id),
                now=now,
            ).as_dict()
        row = ReviewDecision(
            case_id=case.id,
            user_id=user.id,
            reviewer=user.name,
            decision=decision.value,
            note=note.strip(),
            status_after=status,
            effects=effects,
            created_at=now,
        )
        session.add(row)
        session.flush()
        record(
            session,
            user_actor(user.id),
            Action.DECISION,
            Subject("case", str(case.id)),
            {"decision": decision.value, "status": status, "decision_id": row.id, **effects},
            now=now,
        )
        view = DecisionView(
            row.id, case.id, user.name, decision, status, status not in UNDECIDED, effects, now
        )
        if status == CaseState.DISMISSED:
            # In the decision's own transaction: a dismissal and its safe-list entries stand or
            # fall together. A value already listed is fine.
            for signal_type, value in _matched_values(session, item).items():
                insert_safe_entry(
                    session,
                    signal_type,
                    value,
                    f"not abuse: case {case.id}",
                    actor=user_actor(user.id),
                )
    return view


def decisions_of_case(session: Session, case_id: int) -> list[ReviewDecision]:
    return list(
        session.scalars(
            select(ReviewDecision)
            .where(ReviewDecision.case_id == case_id)
            .order_by(ReviewDecision.id)
        )
    )


def _instruments(
    database: Database, case_id: int, decision: Decision, settings: Settings, clock: Clock
) -> Instruments:
    """Load keys before the transaction (file reads), only when this decision may need them."""
    if decision not in CONFIRMATIONS:
        return Instruments(settings, None, None)
    with database.reader() as session:
        item_id = session.scalar(select(Case.item_id).where(Case.id == case_id))
        held = item_id is not None and is_held(session, item_id)
    vault = Vault.from_settings(settings, clock) if held else None
    key = load_key_file(default_key_file(settings)) if settings.centre_url else None
    return Instruments(settings, vault, key)


def _check_may_decide(session: Session, case: Case, user: Account, decision: Decision) -> None:
    if case.status not in UNDECIDED:
        raise Conflict(f"case {case.id} is already decided ({case.status})")
    if case.status == CaseState.ESCALATED:
        if decision == Decision.ESCALATE:
            raise Conflict(f"case {case.id} is already with a senior reviewer")
        require_permission(user.roles, Permission.DECIDE_ESCALATED)
    else:
        require_permission(user.roles, Permission.REVIEW)
    if case.status == CaseState.SECOND_REVIEW and user.id in _confirmers(session, case.id):
        raise Conflict("four-eyes rule: a second, different reviewer must decide this case")


def _apply(
    session: Session,
    case: Case,
    item: Item,
    user: Account,
    decision: Decision,
    now: datetime,
    tools: Instruments,
    choices: ReportChoices,
) -> tuple[str, dict[str, Any]]:
    if decision == Decision.ESCALATE:
        case.status = CaseState.ESCALATED
        return CaseState.ESCALATED, {}
    if decision == Decision.NOT_ABUSE:
        if case.status == CaseState.SECOND_REVIEW:
            # Two people disagree: a senior settles it.
            case.status = CaseState.ESCALATED
            return CaseState.ESCALATED, {"disagreement": True}
        case.status = CaseState.DISMISSED
        # No measure follows, so the content has no legal purpose to be kept (Art 22(1)).
        session.execute(delete(ItemPayload).where(ItemPayload.item_id == item.id))
        return CaseState.DISMISSED, {"safelisted": sorted(_matched_values(session, item))}
    confirmers = _confirmers(session, case.id) | {user.id}
    if tools.settings.review_four_eyes and len(confirmers) < 2:
        case.status = CaseState.SECOND_REVIEW
        return CaseState.SECOND_REVIEW, {"confirmations": len(confirmers)}
    case.status = CaseState.CONFIRMED
    effects = carry_out(
        session,
        case,
        item,
        KIND_OF[decision],
        reviewer=user.name,
        actor=user_actor(user.id),
        now=now,
        tools=tools,
        choices=choices,
    )
    return CaseState.CONFIRMED, effects


def _confirmers(session: Session, case_id: int) -> set[int]:
    rows = session.scalars(
        select(ReviewDecision.user_id).where(
            ReviewDecision.case_id == case_id,
            ReviewDecision.decision.in_([d.value for d in CONFIRMATIONS]),
        )
    )
    return set(rows)


def _matched_values(session: Session, item: Item) -> dict[str, str]:
    """The item's own values of the signal types that matched: what the safe list suppresses."""
    types = set(session.scalars(select(ItemMatch.signal_type).where(ItemMatch.item_id == item.id)))
    return {t: v for t, v in signal_values(item.signals).items() if t in types}
