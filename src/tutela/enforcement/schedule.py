"""The timed steps of enforcement, run periodically by `tutela serve` next to the outbox sender:
release notices whose silence ran out (Art 12(2)), ask the platform again about unconfirmed
takedowns, and crypto-shred evidence past its retention (Art 22(2)). Each is also a command
(`tutela notices release-due`, `tutela takedowns resend-due`, `tutela vault purge`). On SQLite,
the write-ahead log is also emptied each time, so that deleted uploads do not linger in it
(DESIGN ground rule 2; the database file itself zeroes them, `secure_delete`)."""

from __future__ import annotations

from datetime import timedelta

from tutela.audit.log import SYSTEM
from tutela.db.database import Database
from tutela.enforcement.notices import release_due
from tutela.enforcement.takedown import resend_due
from tutela.enforcement.vault import Vault
from tutela.errors import ConfigurationError
from tutela.messaging.sender import PeriodicTask
from tutela.settings import Settings

# Often enough that nothing waits long past its time; each run is a few indexed queries.
EVERY_S = 60.0


def enforcement_tasks(
    settings: Settings, database: Database, *, every_s: float = EVERY_S
) -> list[PeriodicTask]:
    resend_after = timedelta(hours=settings.takedown_resend_hours)
    tasks = [
        PeriodicTask("notice-release", every_s, lambda: release_due(database, actor=SYSTEM)),
        PeriodicTask("takedown-resend", every_s, lambda: resend_due(database, resend_after)),
    ]
    if database.dialect == "sqlite":
        tasks.append(PeriodicTask("wal-truncate", every_s, database.truncate_wal))
    try:
        vault = Vault.from_settings(settings)
    except ConfigurationError:
        # No master key: nothing can have been preserved, so nothing is due for destruction.
        return tasks
    tasks.append(PeriodicTask("vault-purge", every_s, lambda: vault.purge(database)))
    return tasks
