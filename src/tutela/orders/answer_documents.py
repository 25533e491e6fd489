"""The authority's answer to a provider's impediment (Art 14(5)-(6), Annex V) as a signed
document: either a clarification, from whose receipt the order's clock runs again for the impeded
items, or the order's withdrawal. It is signed by the issuing authority as a `tutela.message/1` of
kind `order.impediment_answer`, its idempotency key `answer:<order id>:<number>`, and posted to the
provider's order endpoint under `/answers`. Read only through `read_impediment_answer`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from tutela.errors import IncompleteOrder, InvalidInput
from tutela.orders.documents import REF_MAX, TEXT_MAX, text_field, time_field

ANSWER_KIND = "order.impediment_answer"
ANSWER_SCHEMA = "tutela.impediment_answer/1"
# Where answers go, under the provider's order endpoint (`…/v1/orders/answers`).
ANSWERS_SUFFIX = "/answers"
ANSWER_PREFIX = "answer:"


class AnswerKind(StrEnum):
    CLARIFICATION = "clarification"  # the clock restarts from its receipt (Art 14(5)-(6))
    WITHDRAWN = "withdrawn"  # the order is withdrawn


@dataclass(frozen=True, slots=True)
class ImpedimentAnswerDocument:
    order_id: str
    number: int
    kind: AnswerKind
    answered_at: datetime
    authority_name: str
    # The refs of the items the answer concerns (those the report named as impeded).
    items: tuple[str, ...]
    clarification: str | None = None

    @property
    def key(self) -> str:
        return answer_key(self.order_id, self.number)

    def document(self) -> dict[str, Any]:
        return {
            "schema": ANSWER_SCHEMA,
            "order_id": self.order_id,
            "number": self.number,
            "answer": self.kind.value,
            "answered_at": self.answered_at.isoformat(),
            "authority": self.authority_name,
            "items": list(self.items),
            "clarification": self.clarification,
        }


def answer_key(order_id: str, number: int) -> str:
    """The idempotency key of an order's `number`-th answer."""
    return f"{ANSWER_PREFIX}{order_id}:{number}"


def answers_url(order_url: str) -> str:
    """Where a provider takes answers: under its registered order endpoint."""
    return order_url.rstrip("/") + ANSWERS_SUFFIX


def check_clarification(kind: AnswerKind, clarification: str | None) -> str | None:
    """A clarification says something (1 to TEXT_MAX characters); a withdrawal may say why."""
    text = (clarification or "").strip()
    if len(text) > TEXT_MAX:
        raise InvalidInput(f"a clarification is at most {TEXT_MAX} characters")
    if kind == AnswerKind.CLARIFICATION and not text:
        raise IncompleteOrder(
            "a clarification answers the impediment in words (Art 14(5)-(6))",
            missing=("clarification",),
        )
    return text or None


def answer_kind_of(value: str) -> AnswerKind:
    try:
        return AnswerKind(value)
    except ValueError:
        allowed = ", ".join(kind.value for kind in AnswerKind)
        raise InvalidInput(f"an answer to an impediment is one of {allowed}") from None


def read_impediment_answer(document: object) -> ImpedimentAnswerDocument:
    """The answer a received document states; `IncompleteOrder` or `InvalidInput` otherwise."""
    if not isinstance(document, dict) or document.get("schema") != ANSWER_SCHEMA:
        raise InvalidInput(f"the payload is not a {ANSWER_SCHEMA} document")
    missing = [
        name for name in ("order_id", "number", "answer", "answered_at") if not document.get(name)
    ]
    if missing:
        raise IncompleteOrder(f"the answer lacks {', '.join(missing)}", missing=tuple(missing))
    number = document["number"]
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise InvalidInput("an answer's number is a whole number from 1")
    items = document.get("items") or []
    if not isinstance(items, list) or not all(
        isinstance(ref, str) and 0 < len(ref) <= REF_MAX for ref in items
    ):
        raise InvalidInput("an answer's items are the refs of the order's items")
    kind = answer_kind_of(str(document["answer"]))
    clarification = document.get("clarification")
    if clarification is not None and not isinstance(clarification, str):
        raise InvalidInput("a clarification is text")
    return ImpedimentAnswerDocument(
        order_id=text_field(document, "order_id", REF_MAX),
        number=number,
        kind=kind,
        answered_at=time_field(document["answered_at"], "answered_at"),
        authority_name=str(document.get("authority") or "")[:256],
        items=tuple(items),
        clarification=check_clarification(kind, clarification),
    )
