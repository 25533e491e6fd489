"""What lets several `tutela serve` processes be one node (issue 18): periodic work runs in one
process at a time, a committed indicator change wakes every matcher at once (PostgreSQL), and a
second `tutela serve` on one SQLite database is refused with a message that says why."""

from __future__ import annotations

import secrets
import threading
import time

import pytest

from tutela.api.matcher_refresh import MatcherRefresher
from tutela.db import Database
from tutela.db.advisory_locks import lock_key, run_alone
from tutela.db.serve_lock import one_server_on_sqlite
from tutela.errors import ConfigurationError
from tutela.indicators import banks
from tutela.indicators.ledger import add_indicator
from tutela.indicators.matcher import Matcher
from tutela.messaging.sender import PeriodicTask, run_sender


def test_a_named_lock_is_held_by_one_holder_at_a_time(database: Database) -> None:
    with (
        run_alone(database, "alerts") as first,
        run_alone(database, "alerts") as second,
        run_alone(database, "other") as other,
    ):
        assert (first, second, other) == (True, False, True)
    with run_alone(database, "alerts") as again:
        assert again  # released when the block ended
    assert lock_key("alerts") != lock_key("other")


def test_two_senders_never_run_one_task_at_once(database: Database) -> None:
    running, overlaps, runs = [0], [0], [0]
    guard = threading.Lock()

    def task() -> None:
        with guard:
            running[0] += 1
            runs[0] += 1
            overlaps[0] += running[0] > 1
        time.sleep(0.05)
        with guard:
            running[0] -= 1

    stop = threading.Event()
    senders = [
        threading.Thread(
            target=run_sender,
            args=(database, {}, stop),
            kwargs={"interval_s": 0.01, "tasks": [PeriodicTask("shared", 0.0, task)]},
        )
        for _ in range(2)
    ]
    for sender in senders:
        sender.start()
    time.sleep(1.0)
    stop.set()
    for sender in senders:
        sender.join()
    assert runs[0] > 5 and overlaps[0] == 0


def test_a_second_server_on_one_sqlite_database_is_refused(database: Database) -> None:
    if database.dialect != "sqlite":
        with one_server_on_sqlite(database), one_server_on_sqlite(database):
            return  # PostgreSQL: replicas welcome
    with (
        one_server_on_sqlite(database),
        pytest.raises(ConfigurationError, match="need PostgreSQL"),
        one_server_on_sqlite(database),
    ):
        pass
    with one_server_on_sqlite(database):
        pass  # free again once the first ended


def test_a_committed_change_wakes_the_matcher_at_once_on_postgresql(database: Database) -> None:
    if database.dialect != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    banks.create_bank(database, "a")
    matcher = Matcher(database)
    matcher.load()
    # Polling once a minute: only the notification can make the change matchable in time.
    refresher = MatcherRefresher(matcher, 60.0, database=database)
    refresher.start()
    try:
        assert refresher.listener is not None and refresher.listener.listening.wait(10)
        value = secrets.token_hex(32)
        added = time.perf_counter()
        add_indicator(database, "a", "pdq", value)
        while not matcher.match_hashes("pdq", [value])[0]:
            assert time.perf_counter() - added < 5, "not matched within 5 s"
            time.sleep(0.001)
    finally:
        refresher.stop()
