"""A backlog scan's database side, a batch of files at a time: their items (found or made in one
transaction), the views of what was decided, and the scan's progress.

The verdicts themselves go through `tutela.detection.verdicts.record_outcomes`, the writer of the
pipeline and the local scan: one transaction per batch, guarded by each item's status, so an item
never gets two verdicts however often a batch is recorded again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tutela.auth.platforms import DEFAULT_PLATFORM
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.detection.bases import basis_names
from tutela.detection.items import ItemView, accept_local, match_dict
from tutela.detection.models import Case, Item, ItemMatch, ItemStatus
from tutela.detection.scan_sources import ListedFile

# Ids per IN (...) list, under SQLite's historical 999-parameter limit.
ID_BATCH = 900
# Files a scan (local or on Ray) admits at once: one read and at most one insert per batch.
ADMIT_BATCH = 256


@dataclass(frozen=True, slots=True)
class Admitted:
    """A batch of listed files with their items: decided before (skipped), listed with an error
    (to be recorded as it is), or to be hashed, each as (item id, file), one entry per item."""

    done: list[tuple[int, ListedFile]]
    failed: list[tuple[int, ListedFile]]
    pending: list[tuple[int, ListedFile]]


def admit(database: Database, files: Sequence[ListedFile], metadata: Mapping[str, Any]) -> Admitted:
    """Find or make the item of every file (a file listed twice is one item); new ones are
    made together, undecided, with no payload or job (no node worker takes them)."""
    keys = sorted({listed.key for listed in files})
    known = _known(database, keys)
    new = [key for key in keys if key not in known]
    if new:
        known.update(_insert(database, new, metadata))
    admitted = Admitted([], [], [])
    seen: set[int] = set()
    for listed in files:
        item_id, status = known[listed.key]
        if item_id in seen:
            continue
        seen.add(item_id)
        if status == ItemStatus.DONE:
            admitted.done.append((item_id, listed))
        elif listed.error is not None:
            admitted.failed.append((item_id, listed))
        else:
            admitted.pending.append((item_id, listed))
    return admitted


def _known(database: Database, keys: Sequence[str]) -> dict[str, tuple[int, str]]:
    """The newest item of each key (as `find_item`), with its status."""
    found: dict[str, tuple[int, str]] = {}
    with database.reader() as session:
        for start in range(0, len(keys), ID_BATCH):
            rows = session.execute(
                select(Item.item_ref, Item.id, Item.status)
                .where(Item.platform == DEFAULT_PLATFORM)
                .where(Item.item_ref.in_(keys[start : start + ID_BATCH]))
                .order_by(Item.id)
            )
            for key, item_id, status in rows:
                found[key] = (item_id, status)
    return found


def _insert(
    database: Database, keys: Sequence[str], metadata: Mapping[str, Any]
) -> dict[str, tuple[int, str]]:
    rows = [
        {"item_ref": key, "status": ItemStatus.PROCESSING, "meta": {"item_id": key, **metadata}}
        for key in keys
    ]
    try:
        with database.unit_of_work() as session:
            made = session.execute(insert(Item).returning(Item.item_ref, Item.id), rows)
            return {key: (item_id, ItemStatus.PROCESSING) for key, item_id in made}
    except IntegrityError:
        # Another scan made some of them meanwhile: one at a time, each settles its own race.
        accepted = [accept_local(database, key, {"item_id": key, **metadata}) for key in keys]
        return {a.item_ref: (a.id, a.status) for a in accepted}


def item_views(database: Database, ids: Sequence[int]) -> dict[int, ItemView]:
    """The views of items (as `get_item` gives each), read a few queries per batch."""
    views: dict[int, ItemView] = {}
    with database.reader() as session:
        for start in range(0, len(ids), ID_BATCH):
            chunk = list(ids[start : start + ID_BATCH])
            items = session.scalars(select(Item).where(Item.id.in_(chunk))).all()
            matches: dict[int, list[dict[str, object]]] = {}
            for match in session.scalars(
                select(ItemMatch).where(ItemMatch.item_id.in_(chunk)).order_by(ItemMatch.id)
            ):
                matches.setdefault(match.item_id, []).append(match_dict(match))
            cases: dict[int, int] = {
                int(item_id): int(case_id)
                for item_id, case_id in session.execute(
                    select(Case.item_id, Case.id).where(Case.item_id.in_(chunk))
                )
            }
            bases = basis_names(
                session, [i.detection_basis_id for i in items if i.detection_basis_id]
            )
            for item in items:
                basis = bases.get(item.detection_basis_id) if item.detection_basis_id else None
                views[item.id] = ItemView(
                    id=item.id,
                    item_ref=item.item_ref,
                    status=item.status,
                    verdict=item.verdict,
                    error=(
                        {"code": item.error_code, "message": item.error_message or ""}
                        if item.error_code
                        else None
                    ),
                    matches=matches.get(item.id, []),
                    case_id=cases.get(item.id),
                    created_at=item.created_at,
                    decided_at=item.decided_at,
                    reason=item.verdict_reason,
                    basis=basis.as_dict() if basis is not None else None,
                )
    return views


@dataclass
class ScanProgress:
    """How far a scan is: files decided now and skipped, verdicts and errors by code, items/s
    since it started, and the time left when the number of files is known (`total`)."""

    clock: Clock = field(default_factory=SystemClock)
    total: int | None = None
    decided: int = 0
    skipped: int = 0
    # Files whose items a failed Ray task left undecided (the next run decides them).
    undecided: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    started: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock.now()

    def add(self, view: ItemView, *, skipped: bool) -> None:
        self.verdicts[view.verdict or "error"] += 1
        if skipped:
            self.skipped += 1
            return
        self.decided += 1
        if view.error:
            self.errors[view.error["code"]] += 1

    @property
    def seen(self) -> int:
        return self.decided + self.skipped + self.undecided

    @property
    def elapsed_s(self) -> float:
        return max((self.clock.now() - self.started).total_seconds(), 0.0)

    @property
    def rate(self) -> float:
        """Files decided per second (skipped ones cost next to nothing and do not count)."""
        elapsed = self.elapsed_s
        return self.decided / elapsed if elapsed > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        if self.total is None or not self.rate:
            return None
        return max(self.total - self.seen, 0) / self.rate

    def line(self) -> str:
        """One line for the terminal: `1,234 of 20,000 files (56 skipped), 310.2 items/s,
        ETA 1m02s, errors: corrupt 3`."""
        of = f" of {self.total:,}" if self.total is not None else ""
        eta = self.eta_s
        parts = [
            f"{self.seen:,}{of} files ({self.skipped:,} skipped)",
            f"{self.rate:.1f} items/s",
        ]
        if eta is not None:
            minutes, seconds = divmod(round(eta), 60)
            parts.append(f"ETA {minutes}m{seconds:02d}s")
        if self.errors:
            codes = ", ".join(f"{code} {n}" for code, n in sorted(self.errors.items()))
            parts.append(f"errors: {codes}")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, object]:
        return {
            "decided": self.decided,
            "skipped": self.skipped,
            "undecided": self.undecided,
            "errors": dict(sorted(self.errors.items())),
            "seconds": round(self.elapsed_s, 3),
            "items_per_s": round(self.rate, 2),
        }


# Items of a scan (local or on Ray) have ids of this prefix (tutela.detection.scan_sources.scan_key).
SCAN_PREFIX = "scan:"


@dataclass(frozen=True, slots=True)
class ScanFigures:
    """Backlog scanning as the database shows it, whichever process scans: items made and not
    yet decided, decided ones, errors by code, and how many were decided in the last window."""

    undecided: int
    decided: int
    errors: dict[str, int]
    recent: int
    window_s: float

    @property
    def rate(self) -> float:
        return self.recent / self.window_s

    @property
    def eta_s(self) -> float | None:
        """Time to decide the items made and not yet decided at the recent rate (files a scan
        has not listed yet are not known to the database)."""
        return self.undecided / self.rate if self.recent else None


def scan_figures(session: Session, now: datetime, window: timedelta) -> ScanFigures:
    is_scan = Item.item_ref.startswith(SCAN_PREFIX, autoescape=True)
    by_status = dict(
        session.execute(
            select(Item.status, func.count()).where(is_scan).group_by(Item.status)
        ).all()
    )
    errors = session.execute(
        select(Item.error_code, func.count())
        .where(is_scan, Item.error_code.is_not(None))
        .group_by(Item.error_code)
    ).all()
    recent = session.scalar(select(func.count()).where(is_scan, Item.decided_at >= now - window))
    return ScanFigures(
        undecided=sum(int(n) for status, n in by_status.items() if status != ItemStatus.DONE),
        decided=int(by_status.get(ItemStatus.DONE, 0)),
        errors={str(code): int(n) for code, n in errors},
        recent=int(recent or 0),
        window_s=window.total_seconds(),
    )
