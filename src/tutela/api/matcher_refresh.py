"""The API process's matcher follows indicator changes in the background, so a lookup touches no
database: one thread reads the change sequence every `TUTELA_MATCHER_REFRESH_MS` (issue 18).

A bank change is therefore matched by `/v1/match` and the `/hma` lookups within that interval
plus the time of one read; uploads to `/v1/items` still refresh before they are decided (a
verdict is written there anyway).
"""

from __future__ import annotations

import logging
import threading

from tutela.indicators.matcher import Matcher

log = logging.getLogger("tutela.matcher")


class MatcherRefresher:
    """A daemon thread calling `matcher.refresh()` every `interval_s`, from `start()` to
    `stop()`. A failed read (the database restarting) is logged and tried again next time."""

    def __init__(self, matcher: Matcher, interval_s: float) -> None:
        self._matcher = matcher
        self._interval_s = max(interval_s, 0.001)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="matcher-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        failing = False
        while not self._stopping.wait(self._interval_s):
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
