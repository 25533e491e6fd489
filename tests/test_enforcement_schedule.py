"""`tutela serve` runs the timed steps of enforcement: evidence past retention is destroyed
without anyone typing `tutela vault purge`."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from tutela.clock import FixedClock
from tutela.db import Database
from tutela.enforcement.schedule import enforcement_tasks
from tutela.enforcement.vault import PreservationReason, Vault, get_record
from tutela.master_key import generate_master_key
from tutela.nodes.provider_sending import provider_tasks
from tutela.settings import Settings

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def test_without_a_vault_key_there_is_no_purge_task(settings: Settings, database: Database) -> None:
    names = [task.name for task in enforcement_tasks(settings, database)]
    wal = ["wal-truncate"] if database.dialect == "sqlite" else []
    assert names == ["notice-release", "takedown-resend", *wal]


def test_the_purge_task_destroys_evidence_past_its_retention(
    settings: Settings, database: Database
) -> None:
    key = generate_master_key()
    keyed = replace(settings, vault_key=base64.b64encode(key.material).decode())
    vault = Vault.from_settings(keyed)
    back_then = Vault(key, clock=FixedClock(LONG_AGO + timedelta(hours=1)))
    with database.unit_of_work() as session:
        expired = back_then.preserve(
            session, "old", b"benign", {}, PreservationReason.REPORT, LONG_AGO
        ).id
        kept = vault.preserve(
            session, "new", b"benign", {}, PreservationReason.REPORT, datetime.now(UTC)
        ).id
    tasks = {task.name: task for task in enforcement_tasks(keyed, database)}
    tasks["vault-purge"].run()
    with database.reader() as session:
        assert get_record(session, expired).purged_at is not None
        assert get_record(session, kept).purged_at is None


def test_the_provider_sender_runs_the_same_timed_steps_in_serve_and_in_outbox_run(
    settings: Settings, database: Database
) -> None:
    # `tutela serve` and `tutela outbox run` both take their periodic tasks from here (outbox run
    # once ran the feed followers alone, leaving notices held and takedowns unasked).
    names = [task.name for task in provider_tasks(settings, database)]
    assert {"notice-release", "takedown-resend", "matcher-snapshot"} <= set(names)
