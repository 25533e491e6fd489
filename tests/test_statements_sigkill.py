"""A restart mid-delivery, for real: the provider's sender (`tutela outbox run`, its own process)
is SIGKILLed while the local Transparency Database holds the answer to the statement it has
just stored; a new sender takes the message over once the dead one's claim runs out, and the
database holds the statement exactly once (its 422 for a known puid tells the new sender it was
there). tests/test_statements_delivery.py simulates the same between claim and answer inside
one process; this one kills the process. SQLite, and PostgreSQL when TUTELA_TEST_DATABASE_URL
is set."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import select

from dsa_tdb_server import SINGLE, TOKEN, transparency_database
from test_statements_delivery import record
from tutela.db import open_database
from tutela.messaging.outbox_models import OutboxMessage
from two_nodes import Node, base_env, closing_database, node_settings, wait_until


@pytest.mark.slow
def test_a_sender_killed_mid_delivery_leaves_the_statement_stored_exactly_once(
    tmp_path: Path,
) -> None:
    with ExitStack() as stack:
        settings = node_settings(stack, tmp_path / "provider")
        tdb = stack.enter_context(transparency_database())
        database = stack.enter_context(closing_database(open_database(settings)))
        puid = record(database, settings, tdb, 1)
        tdb.hold_next = True
        env = base_env(
            settings,
            TUTELA_DSA_TDB_URL=tdb.url,
            TUTELA_DSA_TDB_TOKEN=TOKEN,
            TUTELA_OUTBOX_INTERVAL_S="0.1",
            # The killed sender's claim runs out in 2 s, so the test need not wait 5 minutes.
            TUTELA_OUTBOX_CLAIM_S="2",
            TUTELA_OUTBOX_BACKOFF_S="0.2",
        )
        sender = Node(settings, env, 0, ["outbox", "run"], tmp_path / "sender.log")
        stack.callback(sender.stop)
        stack.callback(tdb.release.set)  # never leave the server's thread waiting

        def message() -> OutboxMessage:
            with database.reader() as session:
                found: OutboxMessage = session.scalars(select(OutboxMessage)).one()
                return found

        sender.spawn()
        wait_until(tdb.answer_held.is_set, 120, "the statement stored, its answer held", sender)
        assert list(tdb.stored) == [puid]
        sender.kill()  # SIGKILL while it waits for the answer: nothing after the send runs
        tdb.release.set()
        assert message().status == "queued"  # the dead sender recorded nothing

        sender.spawn()
        wait_until(lambda: message().status == "acknowledged", 120, "delivered again", sender)

        assert list(tdb.stored) == [puid]
        assert tdb.calls == [(SINGLE, 201), (SINGLE, 422)]  # the new sender learnt it was there
        assert message().remote_detail == {"stored": [], "already_held": [puid]}
