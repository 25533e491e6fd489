"""Policy per bank: which matches give `action`, which `review`, which are ignored.

Default is `review` for everything (DESIGN ground rule 3: people decide). `action` needs an
administrator's explicit setting, on a verified bank, at a tight distance — Art 10(4)(c): regular human
oversight; Art 10(3)(d): error rates kept low. The safe list and flood protection can only
lower an outcome, never raise it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.audit.log import SYSTEM, Action, Subject, record
from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.detection.flood import FloodCounter
from tutela.detection.models import BankPolicy
from tutela.detection.safelist import safelisted_values
from tutela.errors import InvalidInput
from tutela.indicators.banks import bank_by_name
from tutela.indicators.matcher import MatchResult
from tutela.indicators.models import Bank

ACTION = "action"
REVIEW = "review"
IGNORE = "ignore"
SAFELISTED = "safelisted"
NO_MATCH = "no_match"
ERROR = "error"
# Farthest PDQ distance at which an administrator may allow `action` without review: the
# "tight distance" of DESIGN rule 3 (PDQ's own recommended match threshold is 31).
ACTION_PDQ_CEILING = 16
DEFAULT_FLOOD_COUNT = 100
DEFAULT_FLOOD_WINDOW_S = 3600


@dataclass(frozen=True, slots=True)
class PolicyView:
    bank: str
    verified: bool
    action_pdq_distance: int | None
    action_exact: bool
    ignore_pdq_above: int | None
    flood_count: int
    flood_window_s: int

    def as_dict(self) -> dict[str, object]:
        return {
            "bank": self.bank,
            "verified": self.verified,
            "action_pdq_distance": self.action_pdq_distance,
            "action_exact": self.action_exact,
            "ignore_pdq_above": self.ignore_pdq_above,
            "flood_count": self.flood_count,
            "flood_window_s": self.flood_window_s,
        }


@dataclass(frozen=True, slots=True)
class JudgedMatch:
    match: MatchResult
    bank_id: int
    outcome: str


def set_bank_policy(
    database: Database,
    bank_name: str,
    *,
    action_pdq_distance: int | None = None,
    action_exact: bool = False,
    ignore_pdq_above: int | None = None,
    flood_count: int = DEFAULT_FLOOD_COUNT,
    flood_window_s: int = DEFAULT_FLOOD_WINDOW_S,
    actor: str = SYSTEM,
) -> PolicyView:
    """Replace a bank's policy; `action` settings are refused for an unverified bank. The change
    is audited under `actor`, old and new values side by side, in the same transaction."""
    if action_pdq_distance is not None and not 0 <= action_pdq_distance <= ACTION_PDQ_CEILING:
        raise InvalidInput(f"action PDQ distance must be 0-{ACTION_PDQ_CEILING}")
    if ignore_pdq_above is not None and not 0 <= ignore_pdq_above <= 256:
        raise InvalidInput("ignore-above distance must be 0-256")
    if flood_count < 1 or flood_window_s < 1:
        raise InvalidInput("flood count and window must be positive")
    with database.unit_of_work() as session:
        bank = bank_by_name(session, bank_name)
        if (action_pdq_distance is not None or action_exact) and not bank.verified:
            raise InvalidInput(
                f"bank {bank_name!r} is not verified; `action` needs a verified bank"
            )
        policy = session.get(BankPolicy, bank.id)
        before = _view(bank, policy).as_dict()
        policy = policy or BankPolicy(bank_id=bank.id)
        policy.action_pdq_distance = action_pdq_distance
        policy.action_exact = action_exact
        policy.ignore_pdq_above = ignore_pdq_above
        policy.flood_count = flood_count
        policy.flood_window_s = flood_window_s
        policy.updated_at = utc_now()
        session.add(policy)
        session.flush()
        view = _view(bank, policy)
        record(
            session,
            actor,
            Action.SETTING_CHANGE,
            Subject("bank_policy", bank.name),
            {"before": before, "after": view.as_dict()},
        )
        return view


def get_bank_policy(database: Database, bank_name: str) -> PolicyView:
    with database.reader() as session:
        bank = bank_by_name(session, bank_name)
        return _view(bank, session.get(BankPolicy, bank.id))


def judge_matches(
    session: Session,
    matches: Sequence[MatchResult],
    values: Mapping[str, str],
    now: datetime | None = None,
) -> list[JudgedMatch]:
    """Each match with its outcome, inside the caller's transaction (flood counts need it).

    `values` holds the item's own signal values by type, checked against the safe list.
    """
    return judge_batch(session, [(matches, values)], now)[0]


def judge_batch(
    session: Session,
    batch: Sequence[tuple[Sequence[MatchResult], Mapping[str, str]]],
    now: datetime | None = None,
) -> list[list[JudgedMatch]]:
    """`judge_matches` for many items at once, in order: bank rules, safe list and flood counts
    are read once for the whole batch, inside the transaction that records its verdicts."""
    now = now or utc_now()
    matches = [m for item_matches, _ in batch for m in item_matches]
    if not matches:
        return [[] for _ in batch]
    names = sorted({m.bank for m in matches})
    rows = session.execute(
        select(Bank, BankPolicy)
        .outerjoin(BankPolicy, BankPolicy.bank_id == Bank.id)
        .where(Bank.name.in_(names))
    ).all()
    rules = {bank.name: (bank, policy) for bank, policy in rows}
    safe = safelisted_values(session, [values for item_matches, values in batch if item_matches])
    flood = FloodCounter(session, [m.indicator_id for m in matches if m.bank in rules], now)
    judged_batch: list[list[JudgedMatch]] = []
    for item_matches, values in batch:
        item_safe = {name for name, value in values.items() if (name, value) in safe}
        judged = []
        for match in item_matches:
            if match.bank not in rules:
                continue  # the bank was deleted since the matcher last refreshed
            bank, policy = rules[match.bank]
            outcome = _outcome(flood, match, bank, policy, item_safe)
            judged.append(JudgedMatch(match, bank.id, outcome))
        # Counted after the item, like rows recorded one item at a time: an item's own matches
        # of one indicator (several dihedral variants) count once in its own check.
        for j in judged:
            flood.count(j.match.indicator_id)
        judged_batch.append(judged)
    return judged_batch


def verdict_of(judged: Sequence[JudgedMatch], error: dict[str, str] | None = None) -> str:
    """The item's verdict from its judged matches; `error` (its media error) makes an item with
    none `error` (exact hashes of a file that would not decode may still match)."""
    if error is not None and not judged:
        return ERROR
    outcomes = {j.outcome for j in judged}
    if ACTION in outcomes:
        return ACTION
    if REVIEW in outcomes:
        return REVIEW
    return NO_MATCH


def _outcome(
    flood: FloodCounter,
    match: MatchResult,
    bank: Bank,
    policy: BankPolicy | None,
    safe: set[str],
) -> str:
    if match.signal_type in safe:
        return SAFELISTED
    pdq = match.signal_type == "pdq"
    ignore_above = policy.ignore_pdq_above if policy is not None else None
    if pdq and ignore_above is not None and match.distance > ignore_above:
        return IGNORE
    flooding = flood.is_flooding(
        indicator_id=match.indicator_id,
        bank_id=bank.id,
        limit=policy.flood_count if policy else DEFAULT_FLOOD_COUNT,
        window_s=policy.flood_window_s if policy else DEFAULT_FLOOD_WINDOW_S,
    )
    if policy is None or not bank.verified or flooding or match.review:
        return REVIEW
    if match.signal_type == "vpdq":
        return REVIEW  # a video's share of similar frames: people decide, whatever the policy
    if pdq:
        allowed = policy.action_pdq_distance
        return ACTION if allowed is not None and match.distance <= allowed else REVIEW
    return ACTION if policy.action_exact else REVIEW


def _view(bank: Bank, policy: BankPolicy | None) -> PolicyView:
    return PolicyView(
        bank=bank.name,
        verified=bank.verified,
        action_pdq_distance=policy.action_pdq_distance if policy else None,
        action_exact=policy.action_exact if policy else False,
        ignore_pdq_above=policy.ignore_pdq_above if policy else None,
        flood_count=policy.flood_count if policy else DEFAULT_FLOOD_COUNT,
        flood_window_s=policy.flood_window_s if policy else DEFAULT_FLOOD_WINDOW_S,
    )
