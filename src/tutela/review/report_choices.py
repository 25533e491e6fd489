"""What the reviewer chooses for the report and the platform when confirming a case, and how the
node works out how it became aware of the item when the reviewer does not say (Annex III).

The platform may suggest two of these with the upload's metadata (`extra.urgent`,
`extra.awareness`); the reviewer's choice always wins, because a person answers for the report
(Art 12(1), DESIGN rule 3).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tutela.errors import InvalidInput
from tutela.reporting.fields import Awareness

URGENT_REASON_MAX = 1000
ELSEWHERE_MAX = 10
ELSEWHERE_PART_MAX = 128
# A bank tagged so holds indicators the provider matches under a detection order (Art 7).
DETECTION_ORDER_TAG = "detection_order"


class AccountAction(StrEnum):
    """Annex III "measures taken on the account": what the node asks the platform to do."""

    SUSPEND_ACCOUNT = "suspend_account"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class ReportChoices:
    """The reviewer's answers; None for awareness means "as the item came" (`awareness_of`)."""

    urgent: bool = False
    urgent_reason: str = ""
    awareness: Awareness | None = None
    account_action: AccountAction = AccountAction.SUSPEND_ACCOUNT
    # Other organisations the case went to (Art 13(1)(h)), as (organisation, case number).
    reported_elsewhere: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        reason = self.urgent_reason.strip()
        if self.urgent and not reason:
            # Art 13(1)(j): urgency means an imminent threat to life or safety; say which.
            raise InvalidInput("an urgent report says why (the imminent threat to life or safety)")
        if len(reason) > URGENT_REASON_MAX:
            raise InvalidInput(f"the urgency reason is at most {URGENT_REASON_MAX} characters")
        if len(self.reported_elsewhere) > ELSEWHERE_MAX:
            raise InvalidInput(f"at most {ELSEWHERE_MAX} other reports are named")
        for organisation, number in self.reported_elsewhere:
            if not organisation.strip() or len(organisation) > ELSEWHERE_PART_MAX:
                raise InvalidInput("another report names its organisation (1-128 characters)")
            if len(number) > ELSEWHERE_PART_MAX:
                raise InvalidInput("another report's case number is at most 128 characters")

    def as_dict(self) -> dict[str, Any]:
        return {
            "urgent": self.urgent,
            "urgent_reason": self.urgent_reason.strip(),
            "awareness": None if self.awareness is None else self.awareness.value,
            "account_action": self.account_action.value,
            "reported_elsewhere": [list(pair) for pair in self.reported_elsewhere],
        }


def parse_elsewhere(lines: str) -> tuple[tuple[str, str], ...]:
    """The console's text field: one `ORGANISATION: CASE NUMBER` per line (number optional)."""
    pairs = []
    for line in lines.splitlines():
        if line.strip():
            organisation, _, number = line.partition(":")
            pairs.append((organisation.strip(), number.strip()))
    return tuple(pairs)


def suggested_urgency(meta: Mapping[str, Any] | None) -> tuple[bool, str]:
    """What the console's form starts from: the platform's `extra.urgent` flag and
    `extra.urgent_reason`, for the reviewer to keep or change."""
    extra = (meta or {}).get("extra") or {}
    urgent = extra.get("urgent") is True
    reason = str(extra.get("urgent_reason") or "")[:URGENT_REASON_MAX] if urgent else ""
    return urgent, reason


def awareness_of(
    meta: Mapping[str, Any] | None,
    bank_tags: Iterable[Iterable[str]],
    *,
    under_order: bool = False,
) -> Awareness:
    """Annex III, from how the item came: the platform's `extra.awareness` when it names a
    channel (a user notice, an authority, a hotline or trusted flagger), else a match that ran
    under a detection order (`under_order`) or in a bank tagged `detection_order`, else the
    provider's own initiative (voluntary detection)."""
    extra = (meta or {}).get("extra") or {}
    declared = extra.get("awareness")
    if isinstance(declared, str) and declared in {a.value for a in Awareness}:
        return Awareness(declared)
    if under_order or any(DETECTION_ORDER_TAG in tags for tags in bank_tags):
        return Awareness.DETECTION_ORDER
    return Awareness.OWN_INITIATIVE
