"""The user's copy of a statement of reasons: what DSA Art 17(3) asks a provider to tell the
person whose content or account it restricted, as a structured object the platform renders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tutela.statements.database_copy import AccountMeasure, AutomatedDecision, DatabaseFields

ACCOUNT_WORDS = {
    AccountMeasure.SUSPENDED: "suspension of the account",
    AccountMeasure.TERMINATED: "termination of the account",
}
AUTOMATION_WORDS = {
    AutomatedDecision.FULLY: "the decision was taken by automated means alone",
    AutomatedDecision.PARTIALLY: "the decision was taken by a person helped by automated means",
    AutomatedDecision.NOT_AUTOMATED: "the decision was taken by a person",
}
# Art 17(3)(f): every way the user can contest the decision.
REDRESS = (
    {
        "means": "internal_complaint",
        "text": "You can complain about this decision through the service (DSA Art 20), for "
        "at least six months from today.",
    },
    {
        "means": "out_of_court_dispute_settlement",
        "text": "You can take the dispute to a certified out-of-court dispute settlement body "
        "(DSA Art 21).",
    },
    {
        "means": "judicial_redress",
        "text": "You can bring the decision before a court in accordance with national law.",
    },
)


def user_copy(fields: DatabaseFields, item_ref: str, decided_at: datetime) -> dict[str, Any]:
    """Art 17(3)(a)-(f), in order. The user's copy may name the item (it goes to that user);
    the database's copy may not."""
    restrictions = ["removal of the content"]
    if fields.account is not None:
        restrictions.append(ACCOUNT_WORDS[fields.account])
    return {
        "statement_id": fields.puid,
        "item_id": item_ref,
        "decided_at": decided_at.isoformat(),
        # (a) what was restricted, where, and for how long
        "restriction": {
            "content": "removed",
            "account": None if fields.account is None else fields.account.value,
            "summary": " and ".join(restrictions),
            "territorial_scope": list(fields.territorial_scope),
            "applies_from": fields.application_date.isoformat(),
            "until": None,  # indefinite: the content is illegal everywhere in the Union
        },
        # (b) the facts and circumstances, including what led to the decision
        "facts_and_circumstances": fields.facts,
        "source": fields.source.value,
        # (c) whether automated means were used to detect and to decide
        "automated_means": {
            "detection": fields.automated_detection,
            "decision": fields.automated_decision.value,
            "text": (
                "the content was detected by automated means (hash matching); "
                if fields.automated_detection
                else ""
            )
            + AUTOMATION_WORDS[fields.automated_decision],
        },
        # (d) the legal ground and why the content falls under it
        "legal_ground": fields.legal_ground,
        "explanation": fields.explanation,
        # (e) no contractual ground: the decision rests on the law, not on terms of service
        "contractual_ground": None,
        # (f) redress
        "redress": [dict(way) for way in REDRESS],
    }
