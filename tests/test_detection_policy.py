"""Policy: `action` only where an administrator set it for a verified bank, `review` by default,
and PDQ matches past a bank's ignore distance ignored."""

from __future__ import annotations

import pytest

from provider_fixtures import decide_signals, flip_bits
from tutela.audit.log import EntryView, list_entries
from tutela.db.database import Database
from tutela.detection.policy import set_bank_policy
from tutela.errors import InvalidInput
from tutela.indicators.banks import create_bank
from tutela.indicators.ledger import add_indicator

MD5 = "5d41402abc4b2a76b9719d911017c592"
PDQ = "a5" * 32


def banked(database: Database, *, verified: bool = True) -> None:
    create_bank(database, "known", verified=verified)
    add_indicator(database, "known", "md5", MD5)
    add_indicator(database, "known", "pdq", PDQ)


def test_exact_match_gives_action_where_an_administrator_allowed_it(database: Database) -> None:
    banked(database)
    set_bank_policy(database, "known", action_exact=True)
    (item,) = decide_signals(database, [{"md5": MD5}])
    assert item.verdict == "action"
    assert [m["outcome"] for m in item.matches] == ["action"]
    assert item.case_id is not None


def test_match_in_a_bank_without_a_policy_gives_review(database: Database) -> None:
    banked(database)
    (item,) = decide_signals(database, [{"md5": MD5}])
    assert item.verdict == "review"
    assert item.case_id is not None


def test_action_policy_is_refused_for_an_unverified_bank(database: Database) -> None:
    banked(database, verified=False)
    with pytest.raises(InvalidInput):
        set_bank_policy(database, "known", action_exact=True)


def test_pdq_match_farther_than_the_action_distance_gives_review(database: Database) -> None:
    banked(database)
    set_bank_policy(database, "known", action_pdq_distance=8)
    near, far = decide_signals(database, [{"pdq": flip_bits(PDQ, 4)}, {"pdq": flip_bits(PDQ, 12)}])
    assert (near.verdict, far.verdict) == ("action", "review")


def test_pdq_match_beyond_the_ignore_distance_is_ignored(database: Database) -> None:
    banked(database)
    set_bank_policy(database, "known", ignore_pdq_above=10)
    near, far = decide_signals(database, [{"pdq": flip_bits(PDQ, 6)}, {"pdq": flip_bits(PDQ, 20)}])
    assert near.verdict == "review"
    assert far.verdict == "no_match" and far.case_id is None
    assert [(m["distance"], m["outcome"]) for m in far.matches] == [(20, "ignore")]


def changes(database: Database) -> list[EntryView]:
    with database.reader() as session:
        return list_entries(session, action="setting_change")


def test_a_policy_change_is_audited_with_its_actor_and_both_values(database: Database) -> None:
    banked(database)
    set_bank_policy(database, "known", action_exact=True, actor="cli:ops")
    entries = changes(database)
    assert [(e.actor, e.subject) for e in entries] == [("cli:ops", ("bank_policy", "known"))]
    assert entries[0].details["before"]["action_exact"] is False
    assert entries[0].details["after"]["action_exact"] is True


def test_a_refused_policy_change_writes_no_audit_entry(database: Database) -> None:
    banked(database, verified=False)
    with pytest.raises(InvalidInput):
        set_bank_policy(database, "known", action_exact=True, actor="cli:ops")
    assert changes(database) == []
