"""Joining reports of the same material into incidents: an equal exact hash (MD5, SHA-1,
SHA-256), found through the database index, or PDQ hashes within `PDQ_LINK_DISTANCE` bits, found
through an in-memory `PdqIndex` that follows the stored hash rows by id (no full scan).

Each centre process (uvicorn worker) holds its own `PdqLinker`; the database is the only thing
they share. Exact hashes are looked up in the database, and each linker reads, before every
query, the hash rows committed since it last looked, whichever process stored them. So every
worker links against every committed report, and no cross-process signal is needed.

Committed rows are not enough when two reports of one material arrive at once: each intake would
find nothing and open its own incident. `incident_for` closes that race: a report that finds no
incident takes the material's locks (`lock_material`) and looks again before it opens one, so the
second of two racing intakes waits for the first to commit and then joins its incident.

A report may also bridge incidents (its material is near reports of both): it joins the oldest
and moves the others' reports into it. A report joining one of those others at the same moment
would be left behind in an incident merged away, so on PostgreSQL a report locks the incidents it
joins (shared; exclusively when it merges them) and looks again: a merge waits for the joins in
flight, and a join that waited for a merge finds the merged incident."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import Connection, and_, bindparam, insert, or_, select, text

from tutela.centre.models import CentreReport, CentreReportHash, Incident
from tutela.matching import PdqIndex

# Bits within which two PDQ hashes count as the same material (the industry's usual threshold).
PDQ_LINK_DISTANCE = 31
EXACT_TYPES = {"md5": 32, "sha1": 40, "sha256": 64}
# Row ids are handed out at insert but become visible at commit, so a row may appear below ids
# already read (a slower intake, in any process). Ids missing below the highest one read are
# asked for again, by id, until they show up or this many seconds pass: an intake commits in
# milliseconds after its insert, so a gap older than this is a rolled-back or deleted row.
GAP_SETTLE_S = 60.0
# At start-up, ids this far below the highest one are watched as possible gaps (intakes of other
# processes in flight); older gaps are history (deleted reports, rollbacks).
STARTUP_GAP_WINDOW = 1000

# Linking locks are PostgreSQL advisory locks of the two-key form (space, key): the space keeps
# them apart from every other advisory lock of the node.
LOCK_SPACE = 0x7475_6C6B
# A PDQ hash locks one key per byte (position, value): two hashes within PDQ_LINK_DISTANCE (< 32)
# bits differ in at most 31 of their 32 bytes, so they always share a key. Keys of exact hashes
# lie above these.
PDQ_BYTES = 32
PDQ_KEYS = PDQ_BYTES * 256
# Every intake that locks material holds this key shared; a report whose hashes would need more
# than MAX_MATERIAL_KEYS keys holds it alone instead, so that one report cannot fill the server's
# lock table (max_locks_per_transaction).
WHOLE_KEY = -1
MAX_MATERIAL_KEYS = 256
_LOCK_WHOLE_SHARED = text("SELECT pg_advisory_xact_lock_shared(:space, :key)")
_LOCK_WHOLE = text("SELECT pg_advisory_xact_lock(:space, :key)")
# unnest yields the keys in the (sorted) order given: every intake locks in one order, so two
# cannot deadlock.
_LOCK_KEYS = text(
    "SELECT count(pg_advisory_xact_lock(:space, k)) FROM unnest(CAST(:keys AS integer[])) AS k"
)

# Incidents locked in id order (the sort sits below the row locking in the plan).
_INCIDENTS = (
    select(Incident.id)
    .where(Incident.id.in_(bindparam("ids", expanding=True)))
    .order_by(Incident.id)
)
_LOCK_INCIDENTS_SHARE = _INCIDENTS.with_for_update(read=True)
_LOCK_INCIDENTS_UPDATE = _INCIDENTS.with_for_update()


class PdqLinker:
    """One per centre process; safe to share between the intake threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._index = PdqIndex()
        self._clock = clock
        self._started = False
        self._top = 0  # highest hash row id read
        self._gaps: dict[int, float] = {}  # ids below `_top` not read yet → when first missed
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Compile the index's kernels now (numba, seconds) rather than in the first intake."""
        probe = PdqIndex()
        probe.add(np.zeros(1, np.int64), np.zeros((1, 32), np.uint8))
        probe.query(np.zeros((1, 32), np.uint8), PDQ_LINK_DISTANCE)

    def near_reports(self, connection: Connection, pdqs: list[str]) -> set[int]:
        """Ids of reports holding a PDQ hash within the link distance of any of `pdqs`."""
        codes = np.frombuffer(b"".join(bytes.fromhex(v) for v in pdqs), np.uint8).reshape(-1, 32)
        self.follow(connection)
        with self._lock:
            found = self._index.query(codes, PDQ_LINK_DISTANCE)
        return {report_id for hits in found for report_id, _ in hits}

    def follow(self, connection: Connection) -> None:
        """Read the hash rows committed since the last look; the query runs outside the lock
        so that intakes do not queue behind one another's round trip."""
        with self._lock:
            top, gaps = self._top, list(self._gaps)
        column = CentreReportHash.id
        wanted = or_(column > top, column.in_(gaps)) if gaps else column > top
        rows = connection.execute(
            select(
                column,
                CentreReportHash.report_id,
                CentreReportHash.signal_type,
                CentreReportHash.value,
            )
            .where(wanted)
            .order_by(column)
        ).all()
        with self._lock:
            self._merge([(r[0], r[1], r[2], r[3]) for r in rows])

    def _merge(self, rows: list[tuple[int, int, str, str]]) -> None:
        # Rows another thread merged meanwhile are neither above `_top` nor in `_gaps`.
        fresh = [r for r in rows if r[0] > self._top or r[0] in self._gaps]
        pdq = [r for r in fresh if r[2] == "pdq"]
        if pdq:
            ids = np.array([r[1] for r in pdq], np.int64)
            codes = np.frombuffer(b"".join(bytes.fromhex(r[3]) for r in pdq), np.uint8)
            self._index.add(ids, codes.reshape(-1, 32))
        now = self._clock()
        read = {r[0] for r in fresh}
        for row_id in read:
            self._gaps.pop(row_id, None)
        top = max(read, default=self._top)
        if top > self._top:
            low = self._top if self._started else max(0, top - STARTUP_GAP_WINDOW)
            self._gaps.update((i, now) for i in range(low + 1, top) if i not in read)
            self._top = top
        self._started = True
        self._gaps = {i: t for i, t in self._gaps.items() if now - t < GAP_SETTLE_S}


def linked_incidents(
    connection: Connection, hashes: Iterable[tuple[str, str]], linker: PdqLinker
) -> set[int]:
    """Incidents of stored reports that share an exact hash or hold a near PDQ: one query (and
    the linker's follow-up read when there are PDQ hashes)."""
    hashes = list(hashes)
    exact = [
        and_(CentreReportHash.signal_type == k, CentreReportHash.value == v)
        for k, v in hashes
        if k in EXACT_TYPES
    ]
    pdqs = [v for k, v in hashes if k == "pdq"]
    near = linker.near_reports(connection, pdqs) if pdqs else set()
    matches = []
    if exact:
        matches.append(CentreReport.id.in_(select(CentreReportHash.report_id).where(or_(*exact))))
    if near:
        matches.append(CentreReport.id.in_(near))
    if not matches:
        return set()
    found = connection.execute(
        select(CentreReport.incident_id)
        .distinct()
        .where(CentreReport.incident_id.is_not(None), or_(*matches))
    ).scalars()
    return {int(i) for i in found if i is not None}


@dataclass(frozen=True, slots=True)
class IncidentChoice:
    """The incident a new report joins, and every incident its hashes linked it to: more than
    one when the report bridges incidents that are one material; none when it opened one."""

    incident_id: int
    linked: frozenset[int]


def incident_for(
    connection: Connection,
    hashes: Iterable[tuple[str, str]],
    linker: PdqLinker,
    now: datetime,
) -> IncidentChoice:
    """Find the incident of the material, or open one, race-free: call it in the writing
    transaction that then stores the report and its hashes.

    PostgreSQL (read committed): a report that finds no incident locks its material until its
    transaction ends, then looks again; an intake of the same material that raced it waits on the
    lock and, once the first has committed, finds the first's report. SQLite: the writing
    transaction (`BEGIN IMMEDIATE`) holds the database's one write lock from its start, so the
    first look already saw every committed report and nothing can commit in between."""
    hashes = list(hashes)
    linked = linked_incidents(connection, hashes, linker)
    if not linked and lock_material(connection, hashes):
        linked = linked_incidents(connection, hashes, linker)
    if linked and connection.dialect.name == "postgresql":
        linked = _hold_incidents(connection, hashes, linker, linked)
    if linked:
        return IncidentChoice(min(linked), frozenset(linked))
    created = connection.execute(insert(Incident).values(created_at=now).returning(Incident.id))
    return IncidentChoice(int(created.scalar_one()), frozenset())


def _hold_incidents(
    connection: Connection, hashes: list[tuple[str, str]], linker: PdqLinker, linked: set[int]
) -> set[int]:
    """Lock the incidents the report will join (FOR SHARE) or merge (FOR UPDATE) until the
    transaction ends, and return them once a look after the lock finds the same ones.

    A look that finds others (a merge committed meanwhile) undoes its locks, by a savepoint,
    before taking the new ones: a transaction only ever waits while holding one set of incident
    locks taken in id order, so two intakes cannot deadlock on them."""
    while True:
        connection.exec_driver_sql("SAVEPOINT tutela_incidents")
        mode = _LOCK_INCIDENTS_UPDATE if len(linked) > 1 else _LOCK_INCIDENTS_SHARE
        connection.execute(mode, {"ids": sorted(linked)})
        again = linked_incidents(connection, hashes, linker)
        if again == linked or not again:
            connection.exec_driver_sql("RELEASE SAVEPOINT tutela_incidents")
            return linked
        connection.exec_driver_sql("ROLLBACK TO SAVEPOINT tutela_incidents")
        linked = again


def lock_material(connection: Connection, hashes: Iterable[tuple[str, str]]) -> bool:
    """Take, until the transaction ends, the PostgreSQL advisory locks that any report of the
    same or near material also takes; True when locks were taken (PostgreSQL, linkable hashes).
    On SQLite nothing is needed: the writing transaction already excludes every other writer."""
    if connection.dialect.name != "postgresql":
        return False
    keys = sorted(material_keys(hashes))
    if not keys:
        return False
    if len(keys) > MAX_MATERIAL_KEYS:
        connection.execute(_LOCK_WHOLE, {"space": LOCK_SPACE, "key": WHOLE_KEY})
        return True
    connection.execute(_LOCK_WHOLE_SHARED, {"space": LOCK_SPACE, "key": WHOLE_KEY})
    connection.execute(_LOCK_KEYS, {"space": LOCK_SPACE, "keys": keys})
    return True


def material_keys(hashes: Iterable[tuple[str, str]]) -> set[int]:
    """Lock keys of a report's linkable hashes: one per byte of each PDQ hash, one per exact hash
    (its type and value, hashed into the int4 range above the PDQ keys)."""
    keys: set[int] = set()
    for kind, value in hashes:
        if kind == "pdq":
            keys.update(i * 256 + b for i, b in enumerate(bytes.fromhex(value)))
        elif kind in EXACT_TYPES:
            digest = hashlib.blake2b(f"{kind}:{value}".encode(), digest_size=4).digest()
            keys.add(PDQ_KEYS + int.from_bytes(digest) % (2**31 - PDQ_KEYS))
    return keys
