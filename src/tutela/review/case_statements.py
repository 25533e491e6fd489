"""The statement of reasons of a confirmed case: what the reviewer's confirmation restricted
(the item's removal, and the account measure the reviewer chose) and why, in fixed words that
name no person, no account and no bank."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.detection.models import Case, Item
from tutela.enforcement.measure_models import NoticeState, UserNotice
from tutela.indicators.models import Bank
from tutela.reporting.fields import Awareness
from tutela.review.confirmation import NOTICE_KIND
from tutela.review.report_choices import AccountAction, awareness_of
from tutela.settings import Settings
from tutela.statements.database_copy import (
    AccountMeasure,
    AutomatedDecision,
    ContentType,
    Source,
)
from tutela.statements.recording import Restriction, StatementView, record_statement

SOURCE_OF = {
    Awareness.USER_NOTICE: Source.ARTICLE_16,
    Awareness.HOTLINE_OR_TRUSTED_FLAGGER: Source.TRUSTED_FLAGGER,
    Awareness.PUBLIC_AUTHORITY: Source.OTHER_NOTIFICATION,
    Awareness.DETECTION_ORDER: Source.OTHER_NOTIFICATION,
    Awareness.OTHER: Source.OTHER_NOTIFICATION,
    Awareness.OWN_INITIATIVE: Source.VOLUNTARY,
}
ACCOUNT_OF = {AccountAction.SUSPEND_ACCOUNT: AccountMeasure.SUSPENDED, AccountAction.NONE: None}
KNOWN_FACTS = (
    "The uploaded {what} matched, by its hash, material already verified as child sexual abuse "
    "material and listed as such. A trained reviewer looked at it and confirmed that it is that "
    "material. The content was removed and reported as the law requires."
)
NEW_FACTS = (
    "The uploaded {what} was brought to a trained reviewer, who judged it to be child sexual "
    "abuse material not listed before. The content was removed and reported as the law requires."
)
SOURCE_FACTS = {
    Source.ARTICLE_16: " The review followed a notice about the content.",
    Source.TRUSTED_FLAGGER: " The review followed a notice by a trusted flagger or hotline.",
    Source.OTHER_NOTIFICATION: " The review followed a notification by an authority.",
    Source.VOLUNTARY: " The provider found the content by its own voluntary detection.",
}


def record_case_statement(
    session: Session,
    case: Case,
    item: Item,
    *,
    known: bool,
    account_action: AccountAction,
    awareness: Awareness | None,
    settings: Settings,
    actor: str,
    now: datetime,
) -> StatementView:
    """Inside the confirmation's transaction (tutela.review.decisions)."""
    source = SOURCE_OF[awareness or awareness_of(item.meta, _bank_tags(session, case))]
    content_type = ContentType.VIDEO if "vpdq" in (item.signals or {}) else ContentType.IMAGE
    what = "video" if content_type == ContentType.VIDEO else "image"
    facts = (KNOWN_FACTS if known else NEW_FACTS).format(what=what) + SOURCE_FACTS[source]
    restriction = Restriction(
        decision_ref=f"case:{case.id}",
        item_id=item.id,
        item_ref=item.item_ref,
        case_id=case.id,
        content_type=content_type,
        content_date=_content_date(item),
        account=ACCOUNT_OF[account_action],
        source=source,
        automated_detection=bool(case.evidence),
        # A person decided; the match only brought the item to them.
        automated_decision=AutomatedDecision.NOT_AUTOMATED,
        facts=facts,
        notice_id=_decision_notice(session, case.id),
    )
    return record_statement(session, restriction, settings=settings, actor=actor, now=now)


def _decision_notice(session: Session, case_id: int) -> int | None:
    """The notice the confirmation held for the user, which the statement joins."""
    return session.scalar(
        select(UserNotice.id)
        .where(
            UserNotice.case_id == case_id,
            UserNotice.kind == NOTICE_KIND,
            UserNotice.state == NoticeState.HELD,
        )
        .order_by(UserNotice.id.desc())
        .limit(1)
    )


def _content_date(item: Item) -> date:
    """When the platform began hosting the item: its upload time when the platform says it,
    else when the item reached this node."""
    raw = (item.meta or {}).get("uploaded_at")
    if isinstance(raw, str):
        try:
            return datetime.fromisoformat(raw).date()
        except ValueError:
            pass
    return item.created_at.date()


def _bank_tags(session: Session, case: Case) -> list[list[str]]:
    names = {str(e.get("bank")) for e in case.evidence}
    rows = session.scalars(select(Bank.tags).where(Bank.name.in_(names)))
    return [list(tags or []) for tags in rows]
