"""Per-bank fetch checkpoints and what a fetch run reports."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.clock import utc_now
from tutela.errors import TutelaError
from tutela.indicators.models import FetchCheckpoint


class FetchFailed(TutelaError):
    """An exchange could not be reached or refused us; what was fetched before stays, and the
    next run resumes from the checkpoint."""

    code = "fetch_failed"
    status = 502


@dataclass
class FetchReport:
    bank: str
    exchange: str
    pages: int = 0
    entries: int = 0
    added: int = 0
    removed: int = 0
    # Fingerprint types the bank does not keep (PhotoDNA, video TMK…), by name.
    skipped: Counter[str] = field(default_factory=Counter)
    resumed: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "bank": self.bank,
            "exchange": self.exchange,
            "pages": self.pages,
            "entries": self.entries,
            "added": self.added,
            "removed": self.removed,
            "skipped": dict(sorted(self.skipped.items())),
            "resumed": self.resumed,
        }


def load_checkpoint(session: Session, bank_id: int, exchange: str) -> dict[str, Any]:
    """The stored state of the bank's last fetch from `exchange`, or {} to start afresh."""
    row = session.scalar(select(FetchCheckpoint).where(FetchCheckpoint.bank_id == bank_id))
    if row is None or row.exchange != exchange:
        return {}
    return dict(row.state)


def save_checkpoint(session: Session, bank_id: int, exchange: str, state: dict[str, Any]) -> None:
    """Store the state in the caller's transaction, with the indicators it stands for."""
    row = session.get(FetchCheckpoint, bank_id)
    if row is None:
        session.add(
            FetchCheckpoint(bank_id=bank_id, exchange=exchange, state=state, updated_at=utc_now())
        )
    else:
        row.exchange = exchange
        row.state = state
        row.updated_at = utc_now()
