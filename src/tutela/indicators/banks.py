"""Banks: named lists of indicators with their own thresholds; one transaction per service call,
which also records the change for matchers (tutela.indicators.changes) and the audit entry."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tutela.audit.log import SYSTEM
from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.errors import Conflict, InvalidInput, NotFound
from tutela.indicators.bank_audit import BankAction, record_bank_change
from tutela.indicators.changes import ChangeOp, record_change
from tutela.indicators.matcher_videos import (
    VPDQ_COMPARED_MATCH_PERCENT,
    VPDQ_QUERY_MATCH_PERCENT,
)
from tutela.indicators.models import Bank, Indicator
from tutela.signals.pdq import PdqSignal

BANK_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,31}$")
PDQ_BITS = 256


@dataclass(frozen=True, slots=True)
class BankView:
    """A bank as the edges show it."""

    id: int
    name: str
    description: str
    source: str
    enabled: bool
    verified: bool
    pdq_threshold: int
    review_distance: int | None
    tags: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    indicator_count: int = 0
    robust: bool = False
    vpdq_query_match: float = VPDQ_QUERY_MATCH_PERCENT
    vpdq_compared_match: float = VPDQ_COMPARED_MATCH_PERCENT

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "enabled": self.enabled,
            "verified": self.verified,
            "pdq_threshold": self.pdq_threshold,
            "review_distance": self.review_distance,
            "robust": self.robust,
            "vpdq_query_match": self.vpdq_query_match,
            "vpdq_compared_match": self.vpdq_compared_match,
            "tags": list(self.tags),
            "indicators": self.indicator_count,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def create_bank(
    database: Database,
    name: str,
    *,
    description: str = "",
    source: str = "",
    verified: bool = False,
    pdq_threshold: int = PdqSignal.default_threshold,
    review_distance: int | None = None,
    tags: Sequence[str] = (),
    actor: str = SYSTEM,
    robust: bool = False,
    vpdq_query_match: float = VPDQ_QUERY_MATCH_PERCENT,
    vpdq_compared_match: float = VPDQ_COMPARED_MATCH_PERCENT,
) -> BankView:
    """Create an empty, enabled bank; `actor` is who the audit log names. `robust`: uploads'
    robust query variants (frames trimmed, small rotations undone) are matched against it too.
    `vpdq_*_match`: the shares (percent) of a query video's frames, and of a banked video's,
    that must match for the videos to match (vPDQ's, python-threatexchange's defaults)."""
    _check_name(name)
    _check_thresholds(pdq_threshold, review_distance)
    _check_shares(vpdq_query_match, vpdq_compared_match)
    for tag in tags:
        if not TAG.match(tag):
            raise InvalidInput(f"tag {tag!r} must be 1-32 letters, digits or _.:/-")
    with database.unit_of_work() as session:
        if session.scalar(select(Bank.id).where(Bank.name == name)) is not None:
            raise Conflict(f"a bank named {name!r} already exists")
        now = utc_now()
        bank = Bank(
            name=name,
            description=description,
            source=source,
            enabled=True,
            verified=verified,
            pdq_threshold=pdq_threshold,
            review_distance=review_distance,
            robust=robust,
            vpdq_query_match=vpdq_query_match,
            vpdq_compared_match=vpdq_compared_match,
            tags=list(dict.fromkeys(tags)),
            created_at=now,
            updated_at=now,
        )
        session.add(bank)
        try:
            session.flush()
        except IntegrityError:  # lost a race with another creator
            raise Conflict(f"a bank named {name!r} already exists") from None
        record_change(session, bank.id, ChangeOp.BANK_CREATE)
        record_bank_change(
            session,
            actor,
            BankAction.CREATE,
            name,
            {
                "source": source,
                "verified": verified,
                "pdq_threshold": pdq_threshold,
                "review_distance": review_distance,
                "robust": robust,
                "vpdq_query_match": vpdq_query_match,
                "vpdq_compared_match": vpdq_compared_match,
                "tags": list(bank.tags),
            },
        )
        return _view(bank, 0)


def list_banks(database: Database) -> list[BankView]:
    with database.reader() as session:
        per_bank = select(Indicator.bank_id, func.count()).group_by(Indicator.bank_id)
        counts = {bank_id: int(n) for bank_id, n in session.execute(per_bank)}
        banks = session.scalars(select(Bank).order_by(Bank.name)).all()
        return [_view(bank, counts.get(bank.id, 0)) for bank in banks]


def get_bank(database: Database, name: str) -> BankView:
    with database.reader() as session:
        bank = bank_by_name(session, name)
        return _view(bank, _count(session, bank.id))


def set_bank_enabled(
    database: Database, name: str, enabled: bool, *, actor: str = SYSTEM
) -> BankView:
    """Switch matching against a bank on or off; matchers follow on their next refresh."""
    with database.unit_of_work() as session:
        bank = bank_by_name(session, name)
        if bank.enabled != enabled:
            bank.enabled = enabled
            bank.updated_at = utc_now()
            op = ChangeOp.BANK_ENABLE if enabled else ChangeOp.BANK_DISABLE
            record_change(session, bank.id, op)
            action = BankAction.ENABLE if enabled else BankAction.DISABLE
            record_bank_change(session, actor, action, name)
        return _view(bank, _count(session, bank.id))


def set_bank_thresholds(
    database: Database,
    name: str,
    *,
    pdq_threshold: int,
    review_distance: int | None,
    actor: str = SYSTEM,
    robust: bool | None = None,
    vpdq_query_match: float | None = None,
    vpdq_compared_match: float | None = None,
) -> BankView:
    """Re-tune a bank's PDQ thresholds; `robust`, when given, switches robust matching, and
    `vpdq_*_match`, when given, set the shares a video match needs."""
    _check_thresholds(pdq_threshold, review_distance)
    with database.unit_of_work() as session:
        bank = bank_by_name(session, name)
        query_share = bank.vpdq_query_match if vpdq_query_match is None else vpdq_query_match
        compared_share = (
            bank.vpdq_compared_match if vpdq_compared_match is None else vpdq_compared_match
        )
        _check_shares(query_share, compared_share)
        record_bank_change(
            session,
            actor,
            BankAction.THRESHOLDS,
            name,
            {
                "pdq_threshold": [bank.pdq_threshold, pdq_threshold],
                "review_distance": [bank.review_distance, review_distance],
                "robust": [bank.robust, bank.robust if robust is None else robust],
                "vpdq_query_match": [bank.vpdq_query_match, query_share],
                "vpdq_compared_match": [bank.vpdq_compared_match, compared_share],
            },
        )
        bank.vpdq_query_match = query_share
        bank.vpdq_compared_match = compared_share
        bank.pdq_threshold = pdq_threshold
        bank.review_distance = review_distance
        if robust is not None:
            bank.robust = robust
        bank.updated_at = utc_now()
        record_change(session, bank.id, ChangeOp.BANK_UPDATE)
        return _view(bank, _count(session, bank.id))


def delete_bank(database: Database, name: str, *, actor: str = SYSTEM) -> int:
    """Delete a bank and all its indicators; return how many indicators went with it."""
    with database.unit_of_work() as session:
        bank = bank_by_name(session, name)
        count = _count(session, bank.id)
        record_change(session, bank.id, ChangeOp.BANK_DELETE)
        record_bank_change(session, actor, BankAction.DELETE, name, {"indicators": count})
        # Indicators and checkpoints go by ON DELETE CASCADE, in the database, in one statement.
        session.delete(bank)
        return count


def bank_by_name(session: Session, name: str) -> Bank:
    bank = session.scalar(select(Bank).where(Bank.name == name))
    if bank is None:
        raise NotFound(f"no bank named {name!r}")
    return bank


def _count(session: Session, bank_id: int) -> int:
    query = select(func.count()).select_from(Indicator).where(Indicator.bank_id == bank_id)
    return int(session.scalar(query) or 0)


def _check_name(name: str) -> None:
    if not BANK_NAME.match(name):
        raise InvalidInput(
            f"bank name {name!r} must be 1-64 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )


def _check_thresholds(pdq_threshold: int, review_distance: int | None) -> None:
    if not 0 <= pdq_threshold <= PDQ_BITS:
        raise InvalidInput(f"PDQ threshold must be between 0 and {PDQ_BITS}")
    if review_distance is not None and not pdq_threshold <= review_distance <= PDQ_BITS:
        raise InvalidInput(
            f"review distance must be between the PDQ threshold ({pdq_threshold}) and {PDQ_BITS}"
        )


def _check_shares(query_match: float, compared_match: float) -> None:
    for share in (query_match, compared_match):
        if not 0.0 <= share <= 100.0:
            raise InvalidInput("vPDQ match shares are percentages, 0 to 100")


def _view(bank: Bank, count: int) -> BankView:
    return BankView(
        id=bank.id,
        name=bank.name,
        description=bank.description,
        source=bank.source,
        enabled=bank.enabled,
        verified=bank.verified,
        pdq_threshold=bank.pdq_threshold,
        review_distance=bank.review_distance,
        tags=tuple(bank.tags),
        created_at=bank.created_at,
        updated_at=bank.updated_at,
        indicator_count=count,
        robust=bank.robust,
        vpdq_query_match=bank.vpdq_query_match,
        vpdq_compared_match=bank.vpdq_compared_match,
    )
