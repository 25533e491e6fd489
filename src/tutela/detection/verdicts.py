"""Recording verdicts: everything the outcomes of a batch of items change, in one transaction.

Verdicts, match rows, cases, webhook outbox rows, the payloads' deletion (or, for an item whose
verdict opens a case, their sealing under the vault master key) and the jobs' completion are
written together with set-based statements, guarded by each item's status: a worker killed at
any point leaves either nothing or everything of its batch, and an item never gets two verdicts
(a reclaimed job whose item is already decided only has its job removed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.detection.bases import NOT_UNDER_ORDER, Decision
from tutela.detection.cases import case_row
from tutela.detection.held_payloads import seal_held_payloads
from tutela.detection.models import Case, Item, ItemMatch, ItemPayload, ItemStatus
from tutela.detection.policy import ACTION, REVIEW, JudgedMatch, judge_batch, verdict_of
from tutela.detection.queue import finish_jobs
from tutela.detection.webhooks import enqueue_platform_events
from tutela.indicators.matcher import MatchResult
from tutela.master_key import MasterKey


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a worker found for one item, before policy."""

    signals: dict[str, Any] | None
    matches: Sequence[MatchResult]
    error: dict[str, str] | None = None
    # What allowed matching it (tutela.detection.bases); None with `reason`: nothing did.
    decision: Decision | None = None
    reason: str | None = None


def not_under_order() -> Outcome:
    """The outcome of an item no order or voluntary basis covers: nothing hashed or matched."""
    return Outcome(None, [], reason=NOT_UNDER_ORDER)


def gated(outcome: Outcome, decision: Decision | None) -> Outcome:
    """`outcome` as `decision` allows it: only the matches a basis covers, each under it; with
    no decision, no match at all."""
    if decision is None:
        return replace(not_under_order(), signals=outcome.signals, error=outcome.error)
    return replace(outcome, matches=decision.allowed(outcome.matches), decision=decision)


def record_outcomes(
    database: Database,
    outcomes: Sequence[tuple[int, Outcome]],
    *,
    now: datetime | None = None,
    master_key: MasterKey | None = None,
) -> list[int]:
    """Record each item's one verdict, all in one transaction; return the ids decided now.
    With `master_key` (the vault's), the payloads held for review are sealed under it."""
    if not outcomes:
        return []
    with database.unit_of_work() as session:
        return write_outcomes(session, outcomes, now or utc_now(), master_key=master_key)


def record_outcome(
    database: Database, item_id: int, outcome: Outcome, *, master_key: MasterKey | None = None
) -> bool:
    """Record one item's verdict; False when it already had one (a reclaimed job)."""
    return bool(record_outcomes(database, [(item_id, outcome)], master_key=master_key))


def write_outcomes(
    session: Session,
    outcomes: Sequence[tuple[int, Outcome]],
    now: datetime,
    *,
    master_key: MasterKey | None = None,
) -> list[int]:
    """`record_outcomes` inside the caller's transaction."""
    ids = sorted({item_id for item_id, _ in outcomes})
    query = select(Item.id, Item.platform, Item.item_ref, Item.status, Item.signals).where(
        Item.id.in_(ids)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Row locks in id order: a reclaimed job decided by two workers at once waits here, then
        # sees the other's verdict and skips it.
        query = query.order_by(Item.id).with_for_update()
    items = {row.id: row for row in session.execute(query)}
    todo: list[tuple[Any, Outcome]] = []
    for item_id, outcome in outcomes:
        row = items.pop(item_id, None)  # pop: a repeated id is decided once
        if row is not None and row.status != ItemStatus.DONE:
            todo.append((row, outcome))
    finish_jobs(session, ids)
    if not todo:
        return []
    judged_batch = judge_batch(
        session, [(outcome.matches, signal_values(outcome.signals)) for _, outcome in todo], now
    )
    decided: list[_Decided] = []
    for (row, outcome), judged in zip(todo, judged_batch, strict=True):
        # A hash-only submission keeps the signals the platform sent.
        signals = outcome.signals or row.signals
        verdict = verdict_of(judged, outcome.error)
        decided.append(
            _Decided(row.id, row.platform, row.item_ref, verdict, outcome, judged, signals)
        )
    match_rows = [_match_row(d.id, j, now, d.outcome.decision) for d in decided for j in d.judged]
    if match_rows:
        session.execute(insert(ItemMatch), match_rows)
    session.execute(
        update(Item),
        [
            {
                "id": d.id,
                **decided_columns(d.verdict, d.signals, d.outcome.error, now),
                **basis_columns(d.outcome),
            }
            for d in decided
        ],
    )
    cases = [
        _with_bases(case_row(d.id, d.verdict, d.judged, now, platform=d.platform), d.outcome)
        for d in decided
        if d.opens_case
    ]
    case_ids: dict[int, int] = {}
    if cases:
        returned = session.execute(insert(Case).returning(Case.item_id, Case.id), cases)
        case_ids = {int(item_id): int(case_id) for item_id, case_id in returned}
    decided_ids = [d.id for d in decided]
    # An item with a case keeps its payload for its review: tutela.review preserves it in the
    # evidence vault and deletes it when the case is decided. Until then it is sealed under the
    # vault master key (DESIGN rule 2); without one it waits in plaintext (the worker warns).
    if master_key is not None:
        seal_held_payloads(session, [d.id for d in decided if d.opens_case], master_key)
    session.execute(
        delete(ItemPayload)
        .where(ItemPayload.item_id.in_([d.id for d in decided if not d.opens_case]))
        .execution_options(synchronize_session=False)
    )
    enqueue_platform_events(
        session,
        [(d.id, d.message(case_ids.get(d.id), now)) for d in decided],
        platforms={d.id: d.platform for d in decided},
    )
    return decided_ids


def undecided_columns(signals: dict[str, object] | None) -> dict[str, object]:
    """A new item's columns while it waits for a worker (`signals`: a hash-only submission's)."""
    return {
        "status": ItemStatus.QUEUED,
        "verdict": None,
        "signals": signals,
        "error_code": None,
        "error_message": None,
        "decided_at": None,
        "detection_basis_id": None,
        "verdict_reason": None,
    }


def decided_columns(
    verdict: str, signals: dict[str, Any] | None, error: dict[str, str] | None, now: datetime
) -> dict[str, object]:
    """An item's columns once decided."""
    return {
        "status": ItemStatus.DONE,
        "verdict": verdict,
        "signals": signals,
        "error_code": error["code"] if error else None,
        "error_message": error["message"] if error else None,
        "decided_at": now,
    }


def basis_columns(outcome: Outcome) -> dict[str, object]:
    """An item's columns naming what its detection ran under, or why it did not run."""
    decision = outcome.decision
    return {
        "detection_basis_id": decision.basis.id if decision is not None else None,
        "verdict_reason": outcome.reason,
    }


def verdict_message(
    ident: int,
    item_ref: str,
    verdict: str,
    error: dict[str, str] | None,
    judged: Sequence[JudgedMatch],
    case_id: int | None,
    now: datetime,
    outcome: Outcome | None = None,
) -> dict[str, object]:
    """The webhook body: ids, verdict, error and matches, the basis detection ran under or the
    reason it did not; hashes and ids, never content."""
    decision = outcome.decision if outcome is not None else None
    return {
        "event": "item.verdict",
        "id": ident,
        "item_id": item_ref,
        "verdict": verdict,
        "reason": outcome.reason if outcome is not None else None,
        "basis": decision.basis.as_dict() if decision is not None else None,
        "error": error,
        "matches": [_public_match(j, decision) for j in judged],
        "case_id": case_id,
        "decided_at": now.isoformat(),
    }


def signal_values(signals: dict[str, Any] | None) -> dict[str, str]:
    """type → value of the item's signals, as the safe list stores them."""
    out: dict[str, str] = {}
    for name, value in (signals or {}).items():
        out[name] = value["hash"] if isinstance(value, dict) else str(value)
    return out


@dataclass(frozen=True, slots=True)
class _Decided:
    id: int
    platform: str
    item_ref: str
    verdict: str
    outcome: Outcome
    judged: list[JudgedMatch]
    signals: dict[str, Any] | None

    @property
    def opens_case(self) -> bool:
        return self.verdict in (ACTION, REVIEW)

    def message(self, case_id: int | None, now: datetime) -> dict[str, object]:
        return verdict_message(
            self.id,
            self.item_ref,
            self.verdict,
            self.outcome.error,
            self.judged,
            case_id,
            now,
            self.outcome,
        )


def _with_bases(case: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
    """The case's evidence, each match with the basis it ran under (reports carry it)."""
    decision = outcome.decision
    if decision is not None:
        for entry in case["evidence"]:
            basis = decision.basis_of(str(entry["bank"]))
            entry["basis"] = basis.as_dict() if basis is not None else None
    return case


def _match_row(
    item_id: int, judged: JudgedMatch, now: datetime, decision: Decision | None
) -> dict[str, object]:
    basis = decision.basis_of(judged.match.bank) if decision is not None else None
    return {
        "basis_id": basis.id if basis is not None else None,
        "item_id": item_id,
        "bank_id": judged.bank_id,
        "bank": judged.match.bank,
        "indicator_id": judged.match.indicator_id,
        "signal_type": judged.match.signal_type,
        "distance": judged.match.distance,
        "variant": judged.match.variant,
        "video": _video_of(judged),
        "outcome": judged.outcome,
        "created_at": now,
    }


def _public_match(judged: JudgedMatch, decision: Decision | None) -> dict[str, object]:
    """As `tutela.detection.items.match_dict` renders a stored match row."""
    basis = decision.basis_of(judged.match.bank) if decision is not None else None
    return {
        "basis_id": basis.id if basis is not None else None,
        "bank": judged.match.bank,
        "indicator_id": judged.match.indicator_id,
        "signal_type": judged.match.signal_type,
        "distance": judged.match.distance,
        "variant": judged.match.variant,
        **({"video": video} if (video := _video_of(judged)) is not None else {}),
        "outcome": judged.outcome,
    }


def _video_of(judged: JudgedMatch) -> dict[str, object] | None:
    """A video's match: vPDQ's shares and the matched frames' times (no content)."""
    detail = judged.match.video
    return detail.as_dict() if detail is not None else None
