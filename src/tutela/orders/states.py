"""The states of an order and of its items, on the provider's side and the authority's, and the
reasons an order may be impossible to execute (Annex V)."""

from __future__ import annotations

from enum import StrEnum


class OrderKind(StrEnum):
    REMOVAL = "removal"
    BLOCKING = "blocking"  # internet access services (Art 16)
    DELISTING = "delisting"  # search engines (Art 18a)
    DETECTION = "detection"  # detection on named service parts (Art 7-11)


class ReceivedState(StrEnum):
    """A received order, at the provider."""

    RECEIVED = "received"  # the clock runs (Art 14(1))
    OVERDUE = "overdue"  # an item still awaits removal past the deadline
    EXECUTED = "executed"  # every item removed or disabled; the report went back
    IMPEDED = "impediment"  # every item settled, at least one by an impediment (Annex V)
    IN_FORCE = "in_force"  # a blocking or delisting order, until its end (Art 16-18)
    ENDED = "ended"  # its end passed: its URLs left the exports
    WITHDRAWN = "withdrawn"  # the authority withdrew it in answer to an impediment


class ItemState(StrEnum):
    REQUESTED = "requested"  # the platform was asked (webhook order.removal_requested)
    REMOVED = "removed"
    DISABLED = "disabled"  # access disabled in all Member States (Art 14(1))
    IMPEDED = "impediment"


# An impediment takes an item off the clock until the authority answers (Art 14(5)-(6)).
SETTLED = frozenset({ItemState.REMOVED, ItemState.DISABLED, ItemState.IMPEDED})


class Impediment(StrEnum):
    """Why an item cannot be removed (Annex V, Art 14(5)-(6))."""

    FORCE_MAJEURE = "force_majeure"
    DE_FACTO_IMPOSSIBILITY = "de_facto_impossibility"
    MANIFEST_ERROR = "manifest_error"
    INSUFFICIENT_INFORMATION = "insufficient_information"


class IssuedState(StrEnum):
    """An issued order, at the authority."""

    SENT = "sent"  # in the outbox, or taken by the provider (see the outbox message's status)
    EXECUTED = "executed"  # the signed execution report says every item was removed or disabled
    IMPEDED = "impediment"  # the report names at least one impediment
    CLARIFIED = "clarified"  # the authority answered the impediment: the clock runs again
    WITHDRAWN = "withdrawn"  # the authority withdrew the order in answer to an impediment
