"""Every change to a bank is in the audit log, naming who made it: the operating-system account
for `tutela bank …`, the caller's actor for the services (the system for timed feed polls)."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest

from feed_fixtures import SignedFeed
from report_samples import NOW
from tutela.audit.log import SYSTEM, EntryView, list_entries
from tutela.audit.verify import verify_chain
from tutela.cli import main
from tutela.db import Database, open_database
from tutela.errors import InvalidInput
from tutela.indicators import banks
from tutela.indicators.feed_subscription import follow_feed, subscribe_bank
from tutela.messaging.signing import generate_key_file
from tutela.settings import Settings

MD5 = "0123456789abcdef0123456789abcdef"


def run(*args: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    assert not exited.value.code


def bank_entries(database: Database) -> list[EntryView]:
    with database.reader() as session:
        return [e for e in list_entries(session) if e.subject and e.subject.type == "bank"]


def test_bank_commands_are_audited_as_the_operating_system_user(
    cli_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text(f"{MD5}\n")
    run("bank", "create", "a", "--pdq-threshold", "20")
    run("bank", "thresholds", "a", "--pdq-threshold", "12", "--review-distance", "30")
    run("bank", "disable", "a")
    run("bank", "enable", "a")
    run("bank", "import", "a", str(listing))
    run("bank", "delete", "a", "--yes")
    database = open_database(cli_env)
    try:
        entries = bank_entries(database)
        with database.reader() as session:
            assert verify_chain(session).intact
    finally:
        database.close()
    assert [(e.action, e.subject.id if e.subject else None) for e in entries] == [
        ("bank_create", "a"),
        ("bank_thresholds", "a"),
        ("bank_disable", "a"),
        ("bank_enable", "a"),
        ("bank_import", "a"),
        ("bank_delete", "a"),
    ]
    assert {e.actor for e in entries} == {f"cli:{getpass.getuser()}"}
    assert entries[1].details["pdq_threshold"] == [20, 12]
    assert (entries[4].details["added"], entries[5].details["indicators"]) == (1, 1)


def test_a_switch_that_changes_nothing_writes_no_entry(database: Database) -> None:
    banks.create_bank(database, "a", actor="cli:alice")
    banks.set_bank_enabled(database, "a", True, actor="cli:alice")
    assert [e.action for e in bank_entries(database)] == ["bank_create"]


def test_a_refused_change_writes_no_entry(database: Database) -> None:
    banks.create_bank(database, "a")
    with pytest.raises(InvalidInput, match="review distance"):
        banks.set_bank_thresholds(database, "a", pdq_threshold=30, review_distance=10)
    assert [e.action for e in bank_entries(database)] == ["bank_create"]


def test_a_subscription_and_each_feed_page_that_brings_entries_are_audited(
    database: Database, tmp_path: Path
) -> None:
    centre = generate_key_file(tmp_path / "centre.pem")
    subscribe_bank(
        database, "eu-centre", "http://centre.invalid", centre.public_key_pem(), actor="cli:bob"
    )
    feed = SignedFeed(centre, [("md5", MD5)])
    follow_feed(database, "eu-centre", feed, NOW)
    follow_feed(database, "eu-centre", feed, NOW)  # nothing new: no entry
    entries = bank_entries(database)
    assert [(e.action, e.actor) for e in entries] == [
        ("bank_create", "cli:bob"),
        ("bank_subscribe", "cli:bob"),
        ("bank_fetch", SYSTEM),
    ]
    assert entries[1].details["key_id"] == centre.key_id
    assert entries[2].details == {
        "exchange": "centre-feed",
        "entries": 1,
        "added": 1,
        "removed": 0,
    }
