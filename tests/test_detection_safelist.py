"""The safe list: a listed value's matches are suppressed, and every change to it is audited."""

from __future__ import annotations

from provider_fixtures import decide_signals
from tutela.audit.log import list_entries
from tutela.db.database import Database
from tutela.detection.safelist import ADDED, REMOVED, add_safe_entry, remove_safe_entry
from tutela.indicators.banks import create_bank
from tutela.indicators.ledger import add_indicator

MD5 = "5d41402abc4b2a76b9719d911017c592"


def test_safelisted_value_matches_nothing(database: Database) -> None:
    create_bank(database, "known", verified=True)
    add_indicator(database, "known", "md5", MD5)
    add_safe_entry(database, "md5", MD5, "a logo that is in every upload")
    (item,) = decide_signals(database, [{"md5": MD5}])
    assert item.verdict == "no_match" and item.case_id is None
    assert [m["outcome"] for m in item.matches] == ["safelisted"]


def test_safe_list_additions_and_removals_are_audited(database: Database) -> None:
    add_safe_entry(database, "md5", MD5, "a logo", actor="user:7")
    remove_safe_entry(database, "md5", MD5, actor="user:8")
    with database.reader() as session:
        entries = [e for e in list_entries(session) if e.action in (ADDED, REMOVED)]
    assert [(e.actor, e.action) for e in entries] == [("user:7", ADDED), ("user:8", REMOVED)]
    assert entries[0].details == {"signal_type": "md5", "value": MD5, "reason": "a logo"}
