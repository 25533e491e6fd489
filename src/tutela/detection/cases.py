"""Cases: opened for every `review` or `action` verdict, holding the match evidence."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tutela.auth.platforms import DEFAULT_PLATFORM
from tutela.detection.models import Case, CaseState
from tutela.detection.policy import ACTION, REVIEW, JudgedMatch

# Lower is more urgent: an administrator-approved action first, then exact or near matches.
PRIORITY_ACTION = 1
PRIORITY_CLOSE = 2
PRIORITY_FAR = 3
CLOSE_PDQ_DISTANCE = 10


def open_case(
    session: Session,
    item_id: int,
    verdict: str,
    judged: Sequence[JudgedMatch],
    now: datetime,
    *,
    platform: str = DEFAULT_PLATFORM,
) -> Case:
    """Open the item's case inside the caller's transaction (the one recording the verdict)."""
    case = Case(**case_row(item_id, verdict, judged, now, platform=platform))
    session.add(case)
    session.flush()
    return case


def case_row(
    item_id: int,
    verdict: str,
    judged: Sequence[JudgedMatch],
    now: datetime,
    *,
    platform: str = DEFAULT_PLATFORM,
) -> dict[str, Any]:
    """The columns of the case a `review` or `action` verdict opens (for its item's
    `platform`), for a bulk insert."""
    relevant = [j for j in judged if j.outcome in (ACTION, REVIEW)]
    return {
        "platform": platform,
        "item_id": item_id,
        "status": CaseState.OPEN,
        "priority": _priority(verdict, relevant),
        "evidence": [evidence_of(j) for j in relevant],
        "created_at": now,
    }


def evidence_of(judged: JudgedMatch) -> dict[str, object]:
    match = judged.match
    return {
        "bank": match.bank,
        "indicator_id": match.indicator_id,
        "signal_type": match.signal_type,
        "distance": match.distance,
        "variant": match.variant,
        "outcome": judged.outcome,
        # A video's match: vPDQ's shares and the matched frames' times, for the reviewer.
        **({"video": match.video.as_dict()} if match.video is not None else {}),
    }


def _priority(verdict: str, judged: Sequence[JudgedMatch]) -> int:
    if verdict == ACTION:
        return PRIORITY_ACTION
    if any(j.match.signal_type != "pdq" or j.match.distance <= CLOSE_PDQ_DISTANCE for j in judged):
        return PRIORITY_CLOSE
    return PRIORITY_FAR
