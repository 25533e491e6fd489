"""The authority answers a provider's impediment (Art 14(5)-(6), Annex V): a case officer either
clarifies — the provider's clock for the impeded items starts again from the answer's receipt —
or withdraws the order. In one transaction the answer is signed with the authority's key, stored,
queued in the outbox for the provider's order endpoint (`…/answers`) and copied to the EU Centre
(its `/v1/orders/answers`) as the order was, the order's state moved
(`clarified` or `withdrawn`) and the act audited. Only an order whose newest execution report
names an impediment awaits an answer."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from tutela.audit.log import Subject, record
from tutela.auth.actors import acting_account
from tutela.auth.roles import Permission
from tutela.authority.answer_models import ImpedimentAnswer
from tutela.authority.issuing import COPY_PREFIX
from tutela.authority.models import IssuedOrder, OrderedProvider
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.errors import Conflict, NotFound
from tutela.messaging.messages import sign_message
from tutela.messaging.outbox import enqueue
from tutela.messaging.signing import SigningKey
from tutela.orders.answer_documents import (
    ANSWER_KIND,
    AnswerKind,
    ImpedimentAnswerDocument,
    answer_kind_of,
    answers_url,
    check_clarification,
)
from tutela.orders.states import IssuedState, ItemState, OrderKind
from tutela.orders.transport import ORDERS, ORDERS_PATH, signed_payload


@dataclass(frozen=True, slots=True)
class AnswerView:
    order: int
    order_id: str
    number: int
    answer: str
    state: str
    items: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.order,
            "order_id": self.order_id,
            "number": self.number,
            "answer": self.answer,
            "state": self.state,
            "items": list(self.items),
        }


def answer_impediment(
    database: Database,
    by: str,
    order: str,
    answer: str,
    authority_name: str,
    key: SigningKey,
    *,
    clarification: str | None = None,
    centre_url: str | None = None,
    clock: Clock | None = None,
) -> AnswerView:
    """Sign and queue the answer to the impediments of `order` (its number or id); `by` is a case
    officer's account, `answer` `clarification` or `withdrawn`. With `centre_url` (the issuer's),
    the answer is copied to the EU Centre as the order was."""
    kind = answer_kind_of(answer)
    text = check_clarification(kind, clarification)
    now = (clock or SystemClock()).now()
    with database.unit_of_work() as session:
        account = acting_account(session, by, Permission.ISSUE_ORDER)
        query = select(IssuedOrder).with_for_update()
        query = query.where(
            IssuedOrder.id == int(order) if order.isdigit() else IssuedOrder.order_ref == order
        )
        row = session.scalar(query)
        if row is None:
            raise NotFound(f"no order {order}")
        if row.kind != OrderKind.REMOVAL or row.state != IssuedState.IMPEDED:
            raise Conflict(
                f"order {row.id} awaits no answer: only a removal order whose execution report "
                f"names an impediment does (it is {row.state})"
            )
        impeded = tuple(
            str(item.get("ref"))
            for item in (row.outcomes or [])
            if item.get("outcome") == ItemState.IMPEDED
        )
        number = 1 + int(
            session.scalar(
                select(func.count())
                .select_from(ImpedimentAnswer)
                .where(ImpedimentAnswer.order_id == row.id)
            )
            or 0
        )
        document = ImpedimentAnswerDocument(
            order_id=row.order_ref,
            number=number,
            kind=kind,
            answered_at=now,
            authority_name=authority_name,
            items=impeded,
            clarification=text,
        )
        signed = sign_message(key, ANSWER_KIND, document.key, document.document(), now)
        session.add(
            ImpedimentAnswer(
                order_id=row.id,
                number=number,
                kind=kind.value,
                clarification=text,
                answered_by=account.actor,
                answered_at=now,
                body=signed.body.decode("utf-8"),
                signature=signed.signature,
            )
        )
        provider = session.get_one(OrderedProvider, row.provider_id)
        url = answers_url(provider.order_url)
        enqueue(session, ORDERS, ANSWER_KIND, signed_payload(url, signed), document.key, now)
        if centre_url is not None:
            copy_url = answers_url(centre_url.rstrip("/") + ORDERS_PATH)
            copy = signed_payload(copy_url, signed)
            enqueue(session, ORDERS, ANSWER_KIND, copy, COPY_PREFIX + document.key, now)
        row.state = IssuedState.WITHDRAWN if kind == AnswerKind.WITHDRAWN else IssuedState.CLARIFIED
        record(
            session,
            account.actor,
            "order_impediment_answer",
            Subject("order", str(row.id)),
            {
                "order_id": row.order_ref,
                "answer": kind.value,
                "number": number,
                "items": impeded,
                "copied_to_centre": centre_url is not None,
            },
            now=now,
        )
        return AnswerView(row.id, row.order_ref, number, kind.value, row.state, impeded)


def answers_of(database: Database, order_id: int) -> list[ImpedimentAnswer]:
    """An order's answers, oldest first (detached rows, for display)."""
    with database.reader() as session:
        rows = list(
            session.scalars(
                select(ImpedimentAnswer)
                .where(ImpedimentAnswer.order_id == order_id)
                .order_by(ImpedimentAnswer.number)
            )
        )
        session.expunge_all()
        return rows
