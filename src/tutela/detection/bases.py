"""Whether known-material detection may run on an item, and under what (Art 7-11): a detection
order in force for the item's service part, or a voluntary basis an administrator set.

**The service of an item** is the name its platform gives in `metadata.service` (one of
TUTELA_PROVIDER_SERVICES, as risk assessments name service parts); a basis for EVERY_SERVICE
(`*`) covers every item, those naming no service included; an item naming no service is covered
by nothing else.

**Decisions.** `DetectionGate.decide` gives the order and the voluntary basis that cover an
item's service now, or None: then the item is not matched at all (verdict `no_match`, reason
`not_under_order`) and nothing of it is hashed. Under an order, matches of the Centre's banks
(those fed by its signed feed, source `eu-centre`: Art 10(1)) run under the order; matches of
the provider's other banks only under a voluntary basis, and are dropped without one. Each
match records the basis it ran under.

**Time.** The gate reads the bases at most once a minute (CACHE_FOR, on its clock), and compares
every start and end with its clock at each decision: an order that ends stops its detection on
the minute, and a basis set or cleared elsewhere (another process, the CLI) counts within a
minute.

Voluntary bases are set and cleared only by an administrator's account, audited
(`detection_basis_set`, `detection_basis_clear`); an order's bases come and go with the order.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tutela.audit.log import Subject, record
from tutela.auth.actors import acting_account
from tutela.auth.roles import Permission
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.detection.basis_models import EVERY_SERVICE, DetectionBasis
from tutela.detection.item_metadata import check_identifier
from tutela.detection.kinds import SERVICE_MAX, DetectionKind
from tutela.errors import Conflict, InvalidInput, NotFound
from tutela.indicators.matcher import MatchResult
from tutela.indicators.models import Bank

ORDER = "order"
VOLUNTARY = "voluntary"
# The verdict's reason when no order or voluntary basis covers the item's service.
NOT_UNDER_ORDER = "not_under_order"
# Banks the Centre's signed feed keeps (tutela.indicators.feed_subscription).
CENTRE_SOURCE = "eu-centre"
# Longest a decision may rest on bases read earlier.
CACHE_FOR = timedelta(minutes=1)
REASON_MAX = 2000


@dataclass(frozen=True, slots=True)
class Basis:
    """One basis as decisions and reports name it."""

    id: int
    source: str
    service: str
    kind: str
    starts_at: datetime
    ends_at: datetime | None
    set_by: str
    order_ref: str | None = None
    authority: str | None = None

    def covers(self, service: str | None, now: datetime) -> bool:
        if self.service != EVERY_SERVICE and self.service != service:
            return False
        return self.starts_at <= now and (self.ends_at is None or now < self.ends_at)

    def as_dict(self) -> dict[str, Any]:
        """As verdict webhooks, case evidence and reports to the Centre carry it."""
        named: dict[str, Any] = {"id": self.id, "source": self.source, "service": self.service}
        if self.source == ORDER:
            named.update(order_id=self.order_ref, authority=self.authority)
        else:
            named["set_by"] = self.set_by
        if self.ends_at is not None:
            named["ends_at"] = self.ends_at.isoformat()
        return named


@dataclass(frozen=True, slots=True)
class Decision:
    """What covers one item now: an order, a voluntary basis, or both."""

    order: Basis | None
    voluntary: Basis | None
    centre_banks: frozenset[str]

    @property
    def basis(self) -> Basis:
        """The item's basis: its order where it has one."""
        chosen = self.order or self.voluntary
        assert chosen is not None, "a decision holds at least one basis"
        return chosen

    def basis_of(self, bank: str) -> Basis | None:
        """What a match of `bank` runs under; None: it may not run."""
        if self.order is not None and bank in self.centre_banks:
            return self.order
        return self.voluntary

    def allowed(self, matches: Iterable[MatchResult]) -> list[MatchResult]:
        return [match for match in matches if self.basis_of(match.bank) is not None]


def service_of(metadata: Mapping[str, Any] | None) -> str | None:
    """The service part an item was uploaded to, as its platform named it."""
    value = (metadata or {}).get("service")
    return value if isinstance(value, str) and value else None


class DetectionGate:
    """Decisions for the pipeline, the API's intake and scans; safe to share between threads."""

    def __init__(self, database: Database, clock: Clock | None = None) -> None:
        self._database = database
        self.clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._bases: tuple[Basis, ...] = ()
        self._centre_banks: frozenset[str] = frozenset()
        self._read_at: datetime | None = None

    def decide(self, service: str | None) -> Decision | None:
        """The order and voluntary basis covering `service` now, or None."""
        now = self.clock.now()
        bases, centre_banks = self._current(now)
        covering = [b for b in bases if b.covers(service, now)]
        order = next((b for b in covering if b.source == ORDER), None)
        voluntary = next((b for b in covering if b.source == VOLUNTARY), None)
        if order is None and voluntary is None:
            return None
        return Decision(order, voluntary, centre_banks)

    @property
    def stale(self) -> bool:
        """Whether the next decision reads the database first."""
        read_at, now = self._read_at, self.clock.now()
        return read_at is None or not read_at <= now < read_at + CACHE_FOR

    def invalidate(self) -> None:
        """Read the bases again at the next decision (this process changed them)."""
        with self._lock:
            self._read_at = None

    def _current(self, now: datetime) -> tuple[tuple[Basis, ...], frozenset[str]]:
        with self._lock:
            if self._read_at is None or not self._read_at <= now < self._read_at + CACHE_FOR:
                with self._database.reader() as session:
                    self._bases = tuple(active_bases(session, now))
                    self._centre_banks = frozenset(
                        session.scalars(select(Bank.name).where(Bank.source == CENTRE_SOURCE))
                    )
                self._read_at = now
            return self._bases, self._centre_banks


def active_bases(session: Session, now: datetime) -> list[Basis]:
    """Known-material bases not cleared nor ended at `now` (some may start later), orders
    first, then oldest first."""
    rows = session.scalars(
        select(DetectionBasis)
        .where(
            DetectionBasis.kind == DetectionKind.KNOWN,
            DetectionBasis.cleared_at.is_(None),
            or_(DetectionBasis.ends_at.is_(None), DetectionBasis.ends_at > now),
        )
        .order_by(DetectionBasis.id)
    ).all()
    views = [view_of(row) for row in rows]
    return [b for b in views if b.source == ORDER] + [b for b in views if b.source != ORDER]


def view_of(row: DetectionBasis) -> Basis:
    return Basis(
        row.id,
        row.source,
        row.service,
        row.kind,
        row.starts_at,
        row.ends_at,
        row.set_by,
        row.order_ref,
        row.authority,
    )


@dataclass(frozen=True, slots=True)
class BasisView:
    """One basis as `tutela detection basis list` shows it."""

    basis: Basis
    reason: str
    created_at: datetime
    cleared_at: datetime | None
    cleared_by: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.basis.as_dict(),
            "kind": self.basis.kind,
            "set_by": self.basis.set_by,
            "starts_at": self.basis.starts_at.isoformat(),
            "reason": self.reason,
            "created_at": self.created_at.isoformat(),
            "cleared_at": self.cleared_at.isoformat() if self.cleared_at else None,
            "cleared_by": self.cleared_by,
        }


def set_voluntary_basis(
    database: Database,
    by: str,
    service: str,
    reason: str,
    *,
    kind: str = DetectionKind.KNOWN,
    clock: Clock | None = None,
) -> BasisView:
    """An administrator's voluntary basis for `kind` detection on `service` (or `*`), audited;
    Conflict when one is set already."""
    service = check_identifier(service.strip(), "service", SERVICE_MAX)
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX:
        raise InvalidInput(f"a voluntary basis states its reason in 1 to {REASON_MAX} characters")
    if kind != DetectionKind.KNOWN:
        raise InvalidInput("only known-material detection (hash matching) runs on this node")
    now = (clock or SystemClock()).now()
    with database.unit_of_work() as session:
        account = acting_account(session, by, Permission.MANAGE_SETTINGS)
        same = session.scalar(
            select(DetectionBasis.id).where(
                DetectionBasis.source == VOLUNTARY,
                DetectionBasis.service == service,
                DetectionBasis.kind == kind,
                DetectionBasis.cleared_at.is_(None),
            )
        )
        if same is not None:
            raise Conflict(f"voluntary basis {same} covers {kind} detection on {service} already")
        row = DetectionBasis(
            source=VOLUNTARY,
            service=service,
            kind=kind,
            starts_at=now,
            set_by=account.actor,
            reason=reason,
            created_at=now,
        )
        session.add(row)
        session.flush()
        record(
            session,
            account.actor,
            "detection_basis_set",
            Subject("detection_basis", str(row.id)),
            {"source": VOLUNTARY, "service": service, "kind": kind, "reason": reason},
            now=now,
        )
        return _listed(row)


def clear_voluntary_basis(
    database: Database, by: str, basis_id: int, *, clock: Clock | None = None
) -> BasisView:
    """End a voluntary basis now, audited; an order's bases end only with the order."""
    now = (clock or SystemClock()).now()
    with database.unit_of_work() as session:
        account = acting_account(session, by, Permission.MANAGE_SETTINGS)
        row = session.get(DetectionBasis, basis_id)
        if row is None:
            raise NotFound(f"no detection basis {basis_id}")
        if row.source != VOLUNTARY:
            raise Conflict(f"basis {basis_id} is part of a detection order; it ends with the order")
        if row.cleared_at is not None:
            raise Conflict(f"basis {basis_id} was cleared already")
        row.cleared_at, row.cleared_by = now, account.actor
        record(
            session,
            account.actor,
            "detection_basis_clear",
            Subject("detection_basis", str(row.id)),
            {"service": row.service, "kind": row.kind, "set_by": row.set_by},
            now=now,
        )
        return _listed(row)


def list_bases(database: Database, *, everything: bool = False) -> list[BasisView]:
    """Bases not cleared (every one ever, with `everything`), oldest first."""
    query = select(DetectionBasis).order_by(DetectionBasis.id)
    if not everything:
        query = query.where(DetectionBasis.cleared_at.is_(None))
    with database.reader() as session:
        return [_listed(row) for row in session.scalars(query)]


def basis_names(session: Session, ids: Sequence[int]) -> dict[int, Basis]:
    """Bases by id, for views of what a match ran under."""
    if not ids:
        return {}
    rows = session.scalars(select(DetectionBasis).where(DetectionBasis.id.in_(sorted(set(ids)))))
    return {row.id: view_of(row) for row in rows}


def _listed(row: DetectionBasis) -> BasisView:
    return BasisView(view_of(row), row.reason, row.created_at, row.cleared_at, row.cleared_by)
