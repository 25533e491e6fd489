"""The change sequence and the Matcher that follows it: every change is matchable (or gone) at
the next refresh, without a rebuild, and each bank's threshold decides."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

import pytest
from sqlalchemy import text

from tutela.clock import FixedClock, utc_now
from tutela.db import Database
from tutela.indicators import banks, matcher_rows
from tutela.indicators.changes import changes_since, latest_seq
from tutela.indicators.ledger import (
    add_indicator,
    disable_indicator,
    enable_indicator,
    remove_indicator,
)
from tutela.indicators.matcher import Matcher

MD5 = "0123456789abcdef0123456789abcdef"


def random_pdq() -> str:
    return secrets.token_hex(32)


def flip_bits(hex_value: str, bits: int) -> str:
    """The same hash with its first `bits` bits inverted: at exactly that Hamming distance."""
    value = int(hex_value, 16) ^ (((1 << bits) - 1) << (256 - bits))
    return f"{value:064x}"


@pytest.fixture
def matcher(database: Database) -> Matcher:
    banks.create_bank(database, "a")
    loaded = Matcher(database)
    loaded.load()
    return loaded


def banks_matching(matcher: Matcher, signal_type: str, value: str) -> list[str]:
    return [result.bank for result in matcher.match_hashes(signal_type, [value])[0]]


def test_the_change_sequence_only_grows(database: Database) -> None:
    banks.create_bank(database, "a")
    first = add_indicator(database, "a", "md5", MD5)
    disable_indicator(database, first.id)
    enable_indicator(database, first.id)
    remove_indicator(database, first.id)
    banks.set_bank_enabled(database, "a", False)
    with database.reader() as session:
        seqs = [change.seq for change in changes_since(session, 0)]
        assert latest_seq(session) == seqs[-1]
    assert len(seqs) == 6  # the bank's creation, then five changes
    assert seqs == sorted(set(seqs))
    # A new change after deleting the newest indicator still gets a larger number.
    second = add_indicator(database, "a", "md5", MD5)
    with database.reader() as session:
        newest = changes_since(session, seqs[-1])
    assert [(c.indicator_id, c.seq > seqs[-1]) for c in newest] == [(second.id, True)]
    assert second.id > first.id  # ids are never handed out twice


def test_an_added_indicator_is_matchable_after_refresh(
    database: Database, matcher: Matcher
) -> None:
    assert banks_matching(matcher, "md5", MD5) == []
    add_indicator(database, "a", "md5", MD5)
    assert matcher.refresh() == 1
    assert banks_matching(matcher, "md5", MD5.upper()) == ["a"]


def test_a_disabled_indicator_stops_matching_and_an_enabled_one_returns(
    database: Database, matcher: Matcher
) -> None:
    pdq = random_pdq()
    indicator = add_indicator(database, "a", "pdq", pdq)
    matcher.refresh()
    disable_indicator(database, indicator.id)
    matcher.refresh()
    assert banks_matching(matcher, "pdq", pdq) == []
    enable_indicator(database, indicator.id)
    matcher.refresh()
    assert banks_matching(matcher, "pdq", pdq) == ["a"]


def test_an_indicator_disabled_until_a_time_returns_when_it_passes(database: Database) -> None:
    banks.create_bank(database, "a")
    clock = FixedClock(utc_now())
    matcher = Matcher(database, clock=clock)
    matcher.load()
    indicator = add_indicator(database, "a", "md5", MD5)
    disable_indicator(database, indicator.id, until=clock.now() + timedelta(hours=1))
    matcher.refresh()
    assert banks_matching(matcher, "md5", MD5) == []
    clock.advance(timedelta(hours=1, seconds=1))
    matcher.refresh()
    assert banks_matching(matcher, "md5", MD5) == ["a"]


def test_a_removed_indicator_stops_matching(database: Database, matcher: Matcher) -> None:
    indicator = add_indicator(database, "a", "md5", MD5)
    matcher.refresh()
    remove_indicator(database, indicator.id)
    matcher.refresh()
    assert banks_matching(matcher, "md5", MD5) == []
    assert len(matcher) == 0


def test_a_disabled_bank_stops_matching_and_returns_when_enabled(
    database: Database, matcher: Matcher
) -> None:
    pdq = random_pdq()
    add_indicator(database, "a", "pdq", pdq)
    matcher.refresh()
    banks.set_bank_enabled(database, "a", False)
    matcher.refresh()
    assert banks_matching(matcher, "pdq", pdq) == []
    banks.set_bank_enabled(database, "a", True)
    matcher.refresh()
    assert banks_matching(matcher, "pdq", pdq) == ["a"]


def test_a_deleted_bank_stops_matching(database: Database, matcher: Matcher) -> None:
    add_indicator(database, "a", "md5", MD5)
    matcher.refresh()
    banks.delete_bank(database, "a")
    matcher.refresh()
    assert banks_matching(matcher, "md5", MD5) == []


def test_a_bank_created_after_the_matcher_loaded_matches_at_the_next_refresh(
    database: Database, matcher: Matcher
) -> None:
    pdq = random_pdq()
    banks.create_bank(database, "late", pdq_threshold=12)
    add_indicator(database, "late", "pdq", pdq)
    add_indicator(database, "late", "md5", MD5)
    matcher.refresh()
    assert banks_matching(matcher, "md5", MD5) == ["late"]
    assert banks_matching(matcher, "pdq", flip_bits(pdq, 12)) == ["late"]
    assert banks_matching(matcher, "pdq", flip_bits(pdq, 13)) == []  # its own threshold


def test_a_bank_created_and_filled_between_two_refreshes_holds_each_indicator_once(
    database: Database, matcher: Matcher
) -> None:
    banks.create_bank(database, "late")
    for value in (random_pdq(), random_pdq()):
        add_indicator(database, "late", "pdq", value)
    matcher.refresh()
    assert len(matcher) == 2


def test_a_bank_created_after_the_matcher_loaded_stops_matching_once_deleted(
    database: Database, matcher: Matcher
) -> None:
    banks.create_bank(database, "late")
    add_indicator(database, "late", "md5", MD5)
    matcher.refresh()
    banks.delete_bank(database, "late")
    matcher.refresh()
    assert (banks_matching(matcher, "md5", MD5), len(matcher)) == ([], 0)


def test_each_bank_applies_its_own_pdq_threshold(database: Database) -> None:
    banks.create_bank(database, "loose", pdq_threshold=31)
    banks.create_bank(database, "tight", pdq_threshold=8)
    pdq = random_pdq()
    add_indicator(database, "loose", "pdq", pdq)
    add_indicator(database, "tight", "pdq", pdq)
    matcher = Matcher(database)
    matcher.load()
    assert sorted(banks_matching(matcher, "pdq", flip_bits(pdq, 8))) == ["loose", "tight"]
    results = matcher.match_hashes("pdq", [flip_bits(pdq, 9)])[0]
    assert [(r.bank, r.distance) for r in results] == [("loose", 9)]
    assert banks_matching(matcher, "pdq", flip_bits(pdq, 32)) == []


def test_matches_in_a_review_band_are_flagged_and_only_given_when_asked(
    database: Database,
) -> None:
    banks.create_bank(database, "banded", pdq_threshold=10, review_distance=40)
    pdq = random_pdq()
    add_indicator(database, "banded", "pdq", pdq)
    matcher = Matcher(database)
    matcher.load()
    assert matcher.match_hashes("pdq", [flip_bits(pdq, 20)]) == [[]]
    (result,) = matcher.match_hashes("pdq", [flip_bits(pdq, 20)], include_review=True)[0]
    assert (result.distance, result.review) == (20, True)


def test_a_rotated_image_matches_through_its_dihedral_variant(
    database: Database, matcher: Matcher
) -> None:
    stored = random_pdq()
    add_indicator(database, "a", "pdq", stored)
    matcher.refresh()
    # The query's own hash is far away; its third variant ("rotate180") is the stored one.
    variants = [random_pdq() for _ in range(8)]
    variants[2] = stored
    (result,) = matcher.match_hashes("pdq", [variants[0]], [variants])[0]
    assert (result.variant, result.distance) == ("rotate180", 0)


def test_a_refresh_reads_only_the_changes_since_the_last(
    database: Database, matcher: Matcher
) -> None:
    values = [random_pdq() for _ in range(3)]
    for value in values:
        add_indicator(database, "a", "pdq", value)
    assert matcher.refresh() == 3
    assert matcher.refresh() == 0
    found = matcher.match_hashes("pdq", values)
    assert [[r.distance for r in rows] for rows in found] == [[0], [0], [0]]


def test_a_full_load_in_small_chunks_of_mixed_types_finds_every_indicator(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    banks.create_bank(database, "a")
    banks.create_bank(database, "b")
    pdqs = [random_pdq() for _ in range(7)]
    md5s = [f"{i:032x}" for i in range(1, 6)]
    for i, value in enumerate(pdqs):
        add_indicator(database, "ab"[i % 2], "pdq", value)
    for value in md5s:
        add_indicator(database, "b", "md5", value)
    banks.set_bank_enabled(database, "a", False)
    monkeypatch.setattr(matcher_rows, "FETCH_ROWS", 3)
    matcher = Matcher(database, use_snapshot=False)
    matcher.load()
    assert [banks_matching(matcher, "pdq", value) for value in pdqs] == [
        [] if i % 2 == 0 else ["b"] for i in range(7)
    ]
    assert [banks_matching(matcher, "md5", value) for value in md5s] == [["b"]] * 5
    assert len(matcher) == 3 + 5


def test_rows_changed_behind_tutelas_back_are_skipped_not_fatal(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    banks.create_bank(database, "a")
    good, bad = random_pdq(), add_indicator(database, "a", "pdq", random_pdq())
    add_indicator(database, "a", "pdq", good)
    other = add_indicator(database, "a", "md5", MD5)
    with database.unit_of_work() as session:
        session.execute(
            text("UPDATE indicators SET value = 'not hex' WHERE id = :i"), {"i": bad.id}
        )
        session.execute(
            text("UPDATE indicators SET signal_type = 'nonesuch' WHERE id = :i"), {"i": other.id}
        )
    matcher = Matcher(database, use_snapshot=False)
    with caplog.at_level(logging.WARNING, logger="tutela.matcher"):
        matcher.load()
    assert (banks_matching(matcher, "pdq", good), len(matcher)) == (["a"], 1)
    assert "malformed pdq" in caplog.text and "'nonesuch'" in caplog.text
