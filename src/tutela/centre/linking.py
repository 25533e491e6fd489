"""Joining reports of the same material into incidents: an equal exact hash (MD5, SHA-1,
SHA-256), found through the database index, or PDQ hashes within `PDQ_LINK_DISTANCE` bits, found
through an in-memory `PdqIndex` that follows the stored hash rows by id (no full scan).

Each centre process (uvicorn worker) holds its own `PdqLinker`; the database is the only thing
they share. Exact hashes are looked up in the database, and each linker reads, before every
query, the hash rows committed since it last looked, whichever process stored them. So every
worker links against every committed report, and no cross-process signal is needed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

import numpy as np
from sqlalchemy import Connection, and_, or_, select

from tutela.centre.models import CentreReport, CentreReportHash
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
