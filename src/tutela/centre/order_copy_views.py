"""What the centre's people read of the copies of orders and of the authority's answers to
impediments (tutela.centre.order_copies): every answer copy, newest first, and one order's copy
with its answers, oldest first. An answer may come before its order's own copy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.centre.order_copy_models import CentreOrderAnswer, CentreOrderCopy
from tutela.errors import NotFound
from tutela.orders.models import AuthorityKey


@dataclass(frozen=True, slots=True)
class AnswerCopyView:
    """One answer's copy: a clarification (the order's clock runs again) or a withdrawal."""

    id: int
    authority: str
    order_ref: str
    number: int
    kind: str
    clarification: str | None
    received_at: datetime
    # Whether the centre holds the order's own copy.
    order_held: bool


@dataclass(frozen=True, slots=True)
class OrderCopyView:
    """An order's copy (None where only its answers came) and its answers' copies."""

    order_ref: str
    authority: str | None
    kind: str | None
    provider: str | None
    received_at: datetime | None
    answers: tuple[AnswerCopyView, ...]


def answer_copies(session: Session, limit: int = 200) -> list[AnswerCopyView]:
    """The answers' copies, newest first."""
    rows = session.execute(
        select(CentreOrderAnswer, AuthorityKey.name)
        .join(AuthorityKey, AuthorityKey.id == CentreOrderAnswer.authority_id)
        .order_by(CentreOrderAnswer.received_at.desc(), CentreOrderAnswer.id.desc())
        .limit(limit)
    ).all()
    held = _held_orders(session, {row.order_ref for row, _ in rows})
    return [
        _answer_view(row, name, (row.authority_id, row.order_ref) in held) for row, name in rows
    ]


def order_copy(session: Session, order_ref: str) -> OrderCopyView:
    """One order's copy and its answers' copies; NotFound when the centre holds neither."""
    copy = session.execute(
        select(CentreOrderCopy, AuthorityKey.name)
        .join(AuthorityKey, AuthorityKey.id == CentreOrderCopy.authority_id)
        .where(CentreOrderCopy.order_ref == order_ref)
    ).first()
    rows = session.execute(
        select(CentreOrderAnswer, AuthorityKey.name)
        .join(AuthorityKey, AuthorityKey.id == CentreOrderAnswer.authority_id)
        .where(CentreOrderAnswer.order_ref == order_ref)
        .order_by(CentreOrderAnswer.number, CentreOrderAnswer.id)
    ).all()
    if copy is None and not rows:
        raise NotFound("the centre holds no copy of that order nor of an answer to it")
    answers = tuple(_answer_view(row, name, copy is not None) for row, name in rows)
    if copy is None:
        return OrderCopyView(order_ref, answers[0].authority, None, None, None, answers)
    row, name = copy
    return OrderCopyView(order_ref, name, row.kind, row.provider, row.received_at, answers)


def _held_orders(session: Session, refs: set[str]) -> set[tuple[int, str]]:
    if not refs:
        return set()
    held = session.execute(
        select(CentreOrderCopy.authority_id, CentreOrderCopy.order_ref).where(
            CentreOrderCopy.order_ref.in_(refs)
        )
    )
    return {(authority, ref) for authority, ref in held}


def _answer_view(row: CentreOrderAnswer, authority: str, order_held: bool) -> AnswerCopyView:
    # The stored bytes were verified and read when the copy was taken: the text is the
    # authority's words as signed.
    clarification = json.loads(row.body)["payload"].get("clarification")
    return AnswerCopyView(
        row.id,
        authority,
        row.order_ref,
        row.number,
        row.kind,
        clarification if isinstance(clarification, str) else None,
        row.received_at,
        order_held,
    )
