"""An impediment as the provider sends it when it is filed (Annex V, Art 14(5)-(6)): a signed
`tutela.message/1` of kind `order.impediment`, one per impeded item and round, its idempotency
key `impediment:<order id>:<round>:<item ref>`, posted to the issuing authority's
`/v1/order-impediments`. The authority learns of it at once rather than only from the execution
report, once every item is settled; the report still names it. Read only through
`read_impediment_notice`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tutela.errors import IncompleteOrder, InvalidInput
from tutela.orders.documents import REF_MAX, TEXT_MAX, impediment_of, text_field, time_field
from tutela.orders.states import Impediment

IMPEDIMENT_KIND = "order.impediment"
IMPEDIMENT_SCHEMA = "tutela.impediment/1"
IMPEDIMENT_PREFIX = "impediment:"
# Where the authority takes them, under its URL (the order's `authority.url`).
IMPEDIMENTS_PATH = "/v1/order-impediments"
# The outbox's limit on an idempotency key.
KEY_MAX = 128


@dataclass(frozen=True, slots=True)
class ImpedimentNotice:
    order_id: str
    # 0 before the authority answered; n after its n-th answer (the round the item is in).
    round: int
    item_ref: str
    provider_item_id: str
    reason: Impediment
    explanation: str
    filed_at: datetime
    provider_name: str

    @property
    def key(self) -> str:
        """Its idempotency key; a digest where the order's id and item ref are long."""
        key = f"{IMPEDIMENT_PREFIX}{self.order_id}:{self.round}:{self.item_ref}"
        if len(key) <= KEY_MAX:
            return key
        return IMPEDIMENT_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()

    def document(self) -> dict[str, Any]:
        return {
            "schema": IMPEDIMENT_SCHEMA,
            "order_id": self.order_id,
            "round": self.round,
            "item": self.item_ref,
            "item_id": self.provider_item_id,
            "impediment": self.reason.value,
            "explanation": self.explanation,
            "filed_at": self.filed_at.isoformat(),
            "provider": self.provider_name,
        }


def read_impediment_notice(document: object) -> ImpedimentNotice:
    """The impediment a received document states; `IncompleteOrder` or `InvalidInput`."""
    if not isinstance(document, dict) or document.get("schema") != IMPEDIMENT_SCHEMA:
        raise InvalidInput(f"the payload is not a {IMPEDIMENT_SCHEMA} document")
    needed = ("order_id", "item", "impediment", "explanation", "filed_at")
    missing = [name for name in needed if not document.get(name)]
    if missing:
        raise IncompleteOrder(f"the impediment lacks {', '.join(missing)}", missing=tuple(missing))
    round_ = document.get("round", 0)
    if not isinstance(round_, int) or isinstance(round_, bool) or round_ < 0:
        raise InvalidInput("an impediment's round is a whole number from 0")
    return ImpedimentNotice(
        order_id=text_field(document, "order_id", REF_MAX),
        round=round_,
        item_ref=text_field(document, "item", REF_MAX),
        provider_item_id=str(document.get("item_id") or "")[:256],
        reason=impediment_of(str(document["impediment"])),
        explanation=text_field(document, "explanation", TEXT_MAX),
        filed_at=time_field(document["filed_at"], "filed_at"),
        provider_name=str(document.get("provider") or "")[:256],
    )
