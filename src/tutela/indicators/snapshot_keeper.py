"""Keeping the matcher snapshot close to the database while a node runs.

Every matching process starts from the snapshot and replays the changes since (see
tutela.indicators.matcher); a snapshot that falls far behind makes every start slower, and past
RELOAD_AFTER_CHANGES it is not replayed at all. Imports of 100,000 hashes or more write one
themselves; lists that grow a little at a time (the centre's feed, small imports) did not, short
of a cron job. A `SnapshotKeeper`, run periodically by the provider's sender, checks how far
behind the snapshot is (a manifest read and one indexed query) and, past `behind` changes, writes
a fresh one in a child process: its memory (a second copy of the indices while it writes) and its
CPU stay out of the process that serves the API.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Sequence

from tutela.db.database import Database
from tutela.indicators.changes import latest_seq
from tutela.indicators.matcher_snapshot import snapshot_directory, snapshot_seq

log = logging.getLogger("tutela.indicators")

# Changes behind after which a fresh snapshot is written: a quarter of what a start still replays
# (RELOAD_AFTER_CHANGES), so a node never comes near it between two checks.
BEHIND_CHANGES = 50_000
# How often to check; each check costs a file read and one query.
EVERY_S = 300.0


class SnapshotKeeper:
    """Callable as a periodic task: starts `command` (which writes the snapshot, e.g. `tutela bank
    snapshot`) when the snapshot is `behind` changes or more behind and no earlier run is still
    going; reports how the last run ended when it has."""

    def __init__(
        self, database: Database, command: Sequence[str], *, behind: int = BEHIND_CHANGES
    ) -> None:
        self._database = database
        self._command = list(command)
        self._behind = behind
        self._child: subprocess.Popen[bytes] | None = None

    def __call__(self) -> bool:
        """True when a snapshot run was started now."""
        if self._child is not None:
            if self._child.poll() is None:
                return False  # still writing
            if self._child.returncode != 0:
                log.warning("matcher snapshot not written (exit status %s)", self._child.returncode)
            self._child = None
        if self._database.data_dir is None or self.changes_behind() < self._behind:
            return False
        self._child = subprocess.Popen(
            self._command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        )
        return True

    def changes_behind(self) -> int:
        """Changes made since the snapshot (all of them when there is none)."""
        assert self._database.data_dir is not None
        with self._database.reader() as session:
            latest = latest_seq(session)
        return latest - (snapshot_seq(snapshot_directory(self._database.data_dir)) or 0)

    def wait(self, timeout_s: float | None = None) -> int | None:
        """The exit status of the run in progress or last started, once it ends (None: none)."""
        return None if self._child is None else self._child.wait(timeout_s)
