"""Banks: unique slugs, thresholds with a review band above, switches recorded as changes."""

from __future__ import annotations

import pytest

from tutela.db import Database
from tutela.errors import Conflict, InvalidInput, NotFound
from tutela.indicators import banks
from tutela.indicators.changes import ChangeOp, changes_since
from tutela.indicators.ledger import add_indicator

PDQ = "f" * 64


def test_a_new_bank_has_the_pdq_default_threshold_and_is_enabled(database: Database) -> None:
    bank = banks.create_bank(database, "iwf", tags=["IWF-A", "IWF-B"], verified=True)
    assert (bank.pdq_threshold, bank.enabled, bank.verified) == (31, True, True)
    assert banks.get_bank(database, "iwf").tags == ("IWF-A", "IWF-B")


def test_bank_names_are_unique(database: Database) -> None:
    banks.create_bank(database, "ncmec")
    with pytest.raises(Conflict):
        banks.create_bank(database, "ncmec")


@pytest.mark.parametrize("name", ["", "Upper", "has space", "-lead", "x" * 65])
def test_bank_names_must_be_slugs(database: Database, name: str) -> None:
    with pytest.raises(InvalidInput):
        banks.create_bank(database, name)


def test_the_review_band_cannot_lie_below_the_threshold(database: Database) -> None:
    with pytest.raises(InvalidInput):
        banks.create_bank(database, "b", pdq_threshold=31, review_distance=20)


def test_a_missing_bank_is_not_found(database: Database) -> None:
    with pytest.raises(NotFound):
        banks.set_bank_enabled(database, "nope", False)


def test_listing_counts_each_banks_indicators(database: Database) -> None:
    banks.create_bank(database, "a")
    banks.create_bank(database, "b")
    add_indicator(database, "b", "pdq", PDQ)
    counts = {bank.name: bank.indicator_count for bank in banks.list_banks(database)}
    assert counts == {"a": 0, "b": 1}


def test_switching_a_bank_off_and_on_records_changes(database: Database) -> None:
    banks.create_bank(database, "a")
    banks.set_bank_enabled(database, "a", False)
    banks.set_bank_enabled(database, "a", False)  # no change, no row
    banks.set_bank_enabled(database, "a", True)
    with database.reader() as session:
        ops = [change.op for change in changes_since(session, 0)]
    assert ops == [ChangeOp.BANK_CREATE, ChangeOp.BANK_DISABLE, ChangeOp.BANK_ENABLE]


def test_deleting_a_bank_deletes_its_indicators(database: Database) -> None:
    banks.create_bank(database, "a")
    add_indicator(database, "a", "pdq", PDQ)
    assert banks.delete_bank(database, "a") == 1
    banks.create_bank(database, "a")
    assert banks.get_bank(database, "a").indicator_count == 0
