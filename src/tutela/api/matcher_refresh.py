"""The API process's matcher follows indicator changes in the background, so a lookup touches no
database (issue 18).

On PostgreSQL every transaction that writes indicator changes notifies a channel when it commits
(tutela.indicators.changes.CHANGES_CHANNEL); a listener thread wakes the refresher at once, so a
bank change made through any replica, the CLI or the centre's feed is matched by `/v1/match` and
the `/hma` lookups of every replica within the notification's delivery (about a millisecond on a
local network) plus one refresh (reading the changed rows): 76-164 ms measured by
tests/test_replicas.py on a busy 2-core machine. Polling the change sequence every
`TUTELA_MATCHER_REFRESH_MS` stays, as the fallback while the listening connection is down, and
the only way on SQLite, where a change is matched within that interval plus the time of one
read. Uploads to `/v1/items` still refresh
before they are decided (a verdict is written there anyway).
"""

from __future__ import annotations

import logging
import threading

from tutela.db.database import Database
from tutela.db.notifications import ChannelListener
from tutela.indicators.changes import CHANGES_CHANNEL
from tutela.indicators.matcher import Matcher

log = logging.getLogger("tutela.matcher")


class MatcherRefresher:
    """A daemon thread calling `matcher.refresh()` every `interval_s`, and at once when the
    database notifies a change (with `database`, on PostgreSQL), from `start()` to `stop()`. A
    failed read (the database restarting) is logged and tried again next time."""

    def __init__(
        self, matcher: Matcher, interval_s: float, *, database: Database | None = None
    ) -> None:
        self._matcher = matcher
        self._interval_s = max(interval_s, 0.001)
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.listener = (
            ChannelListener(database, CHANGES_CHANNEL, self._wake.set)
            if database is not None
            else None
        )

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="matcher-refresh", daemon=True)
        self._thread.start()
        if self.listener is not None:
            self.listener.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self.listener is not None:
            self.listener.stop()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        failing = False
        while True:
            self._wake.wait(self._interval_s)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self._matcher.refresh()
            except Exception:
                # Logged once per outage, not five times a second; matching goes on meanwhile
                # with what the matcher holds.
                if not failing:
                    log.exception("matcher: reading indicator changes failed; retrying")
                failing = True
            else:
                if failing:
                    log.warning("matcher: reading indicator changes works again")
                failing = False
