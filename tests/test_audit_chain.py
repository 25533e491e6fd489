"""The audit log: appended in the caller's transaction, hash-chained, and any tampering is found."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from tutela.audit.log import Action, Subject, entry_hash_of, list_entries, record
from tutela.audit.models import GENESIS_HASH, AuditEntry
from tutela.audit.verify import verify_chain
from tutela.db import Database
from tutela.errors import InvalidInput

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def append_entries(database: Database, count: int) -> None:
    with database.unit_of_work() as session:
        for n in range(count):
            record(
                session,
                f"user:{n % 3}",
                Action.VIEW,
                Subject("case", str(n)),
                {"n": n, "note": "benign test entry", "nested": {"ok": True, "ratio": 0.5}},
                now=T0 + timedelta(seconds=n),
            )


def test_an_intact_chain_of_many_entries_verifies(database: Database) -> None:
    append_entries(database, 250)
    with database.reader() as session:
        report = verify_chain(session)
    assert report.intact
    assert report.count == report.head_seq == 250
    with database.reader() as session:
        last = session.scalar(select(AuditEntry).where(AuditEntry.seq == 250))
    assert last is not None and report.head_hash == last.entry_hash


def test_an_empty_log_verifies_with_the_genesis_hash(database: Database) -> None:
    with database.reader() as session:
        report = verify_chain(session)
    assert (report.intact, report.count, report.head_hash) == (True, 0, GENESIS_HASH)


def test_each_entry_links_to_the_hash_of_the_one_before(database: Database) -> None:
    append_entries(database, 3)
    with database.reader() as session:
        first, second, third = list_entries(session)
    assert first.prev_hash == GENESIS_HASH
    assert (second.prev_hash, third.prev_hash) == (first.entry_hash, second.entry_hash)


def test_an_updated_past_entry_is_reported_as_altered_at_its_seq(database: Database) -> None:
    append_entries(database, 20)
    with database.unit_of_work() as session:
        session.execute(text("UPDATE audit_log SET actor = 'user:99' WHERE seq = 7"))
    with database.reader() as session:
        report = verify_chain(session)
    assert not report.intact
    assert report.broken_at == 7
    assert report.problem is not None and report.problem.startswith("altered")


def test_altered_details_are_found_too(database: Database) -> None:
    append_entries(database, 10)
    with database.unit_of_work() as session:
        session.execute(text("""UPDATE audit_log SET details = '{"n": 4}' WHERE seq = 5"""))
    with database.reader() as session:
        report = verify_chain(session)
    assert (report.intact, report.broken_at) == (False, 5)


def test_a_deleted_past_entry_is_reported_as_missing_where_it_was(database: Database) -> None:
    append_entries(database, 20)
    with database.unit_of_work() as session:
        session.execute(text("DELETE FROM audit_log WHERE seq = 12"))
    with database.reader() as session:
        report = verify_chain(session)
    assert not report.intact
    assert report.broken_at == 12
    assert report.problem == "missing entry: seq 12 (the chain jumps from 11 to 13)"


def test_deleted_newest_entries_are_reported_against_the_head(database: Database) -> None:
    append_entries(database, 10)
    with database.unit_of_work() as session:
        session.execute(text("DELETE FROM audit_log WHERE seq > 8"))
    with database.reader() as session:
        report = verify_chain(session)
    assert (report.intact, report.broken_at, report.count) == (False, 9, 8)
    assert report.problem is not None and "missing entries" in report.problem


def test_swapped_entries_are_reported_as_reordered(database: Database) -> None:
    append_entries(database, 10)
    with database.unit_of_work() as session:
        session.execute(text("UPDATE audit_log SET seq = -1 WHERE seq = 5"))
        session.execute(text("UPDATE audit_log SET seq = 5 WHERE seq = 6"))
        session.execute(text("UPDATE audit_log SET seq = 6 WHERE seq = -1"))
    with database.reader() as session:
        report = verify_chain(session)
    assert (report.intact, report.broken_at) == (False, 5)
    assert report.problem == "reordered: the entry stored at seq 5 was written as seq 6"


def test_a_rewritten_entry_with_a_recomputed_hash_breaks_the_next_link(
    database: Database,
) -> None:
    append_entries(database, 10)
    with database.unit_of_work() as session:
        entry = session.get(AuditEntry, 4)
        assert entry is not None
        session.execute(text("UPDATE audit_log SET actor = 'user:99' WHERE seq = 4"))
        session.refresh(entry)
        session.execute(
            text("UPDATE audit_log SET entry_hash = :h WHERE seq = 4"), {"h": entry_hash_of(entry)}
        )
    with database.reader() as session:
        report = verify_chain(session)
    assert (report.intact, report.broken_at) == (False, 5)
    assert report.problem is not None and report.problem.startswith("broken link")


def test_an_anchor_that_is_no_longer_in_the_chain_fails_verification(database: Database) -> None:
    append_entries(database, 3)
    with database.reader() as session:
        anchored = verify_chain(session, anchor=list_entries(session)[1].entry_hash)
        missing = verify_chain(session, anchor="ab" * 32)
    assert (anchored.intact, anchored.anchor_found) == (True, True)
    assert (missing.intact, missing.anchor_found) == (False, False)


def test_an_entry_is_rolled_back_with_the_transaction_that_made_it(database: Database) -> None:
    with pytest.raises(RuntimeError), database.unit_of_work() as session:
        record(session, "system", Action.DECISION, Subject("case", "1"), {"outcome": "x"})
        raise RuntimeError("the decision failed")
    append_entries(database, 1)
    with database.reader() as session:
        report = verify_chain(session)
    assert (report.intact, report.count) == (True, 1)


def test_bytes_are_refused_in_details(database: Database) -> None:
    with (
        pytest.raises(InvalidInput, match="bytes are never recorded"),
        database.unit_of_work() as s,
    ):
        record(s, "system", Action.VIEW, None, {"payload": b"\x00\x01"})


def test_an_action_must_be_a_lower_case_name(database: Database) -> None:
    with pytest.raises(InvalidInput), database.unit_of_work() as session:
        record(session, "system", "Drop Table", None, {})


def test_concurrent_appenders_never_fork_the_chain(database: Database) -> None:
    if database.dialect != "postgresql":
        pytest.skip("SQLite's single writer lock serialises appends by construction")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def appender(name: str) -> None:
        try:
            barrier.wait()
            for n in range(40):
                with database.unit_of_work() as session:
                    record(session, name, Action.VIEW, Subject("case", str(n)), {"n": n})
        except BaseException as error:  # surfaced below; a thread cannot fail the test itself
            errors.append(error)

    threads = [threading.Thread(target=appender, args=(f"user:{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with database.reader() as session:
        report = verify_chain(session)
        actors = {e.actor for e in list_entries(session, limit=100)}
    assert (report.intact, report.count) == (True, 80)
    assert actors == {"user:0", "user:1"}
