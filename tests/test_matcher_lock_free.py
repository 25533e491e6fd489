"""Lookups read a published view without a lock (issue 18): they go on while a refresh holds the
writer, never see a refresh half done, and an index fork leaves what readers hold unchanged."""

from __future__ import annotations

import secrets
import threading

import numpy as np

from tutela.db import Database
from tutela.indicators import banks
from tutela.indicators.ledger import add_indicator, disable_indicator, enable_indicator
from tutela.indicators.matcher import Matcher
from tutela.indicators.matcher_entries import EntryTable
from tutela.matching import ExactIndex, PdqIndex

MD5 = "0123456789abcdef0123456789abcdef"


def random_pdq() -> str:
    return secrets.token_hex(32)


def codes(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 32), dtype=np.uint8)


def test_lookups_do_not_wait_for_a_refresh_holding_the_writer(database: Database) -> None:
    banks.create_bank(database, "a")
    value = random_pdq()
    add_indicator(database, "a", "pdq", value)
    matcher = Matcher(database)
    matcher.load()
    answered = threading.Event()

    def look_up() -> None:
        if matcher.match_hashes("pdq", [value])[0]:
            answered.set()

    with matcher._lock:  # a refresh (or a snapshot write) in progress
        reader = threading.Thread(target=look_up)
        reader.start()
        assert answered.wait(10)
        reader.join()


def test_an_unchanged_indicator_stays_matched_while_refreshes_rewrite_others(
    database: Database,
) -> None:
    banks.create_bank(database, "a")
    steady = random_pdq()
    add_indicator(database, "a", "pdq", steady)
    add_indicator(database, "a", "md5", MD5)
    flapping = add_indicator(database, "a", "pdq", random_pdq())
    matcher = Matcher(database)
    matcher.load()
    stop = threading.Event()
    misses: list[str] = []

    def read() -> None:
        while not stop.is_set():
            if len(matcher.match_hashes("pdq", [steady])[0]) != 1:
                misses.append("pdq")
            if len(matcher.match_hashes("md5", [MD5])[0]) != 1:
                misses.append("md5")

    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in readers:
        thread.start()
    try:
        for _ in range(30):
            disable_indicator(database, flapping.id)
            add_indicator(database, "a", "pdq", random_pdq())
            matcher.refresh()
            enable_indicator(database, flapping.id)
            matcher.refresh()
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    assert misses == []
    assert len(matcher) == 2 + 1 + 30


def test_a_forked_pdq_index_changes_alone() -> None:
    first = codes(20_000, 1)  # past the tail limit: tables built
    index = PdqIndex.build(np.arange(1, 20_001, dtype=np.int64), first)
    fork = index.fork()
    fork.remove(np.array([1, 2], np.int64))
    fork.add(np.array([30_001], np.int64), codes(1, 2))
    assert index.query(first[:2], 0) == [[(1, 0)], [(2, 0)]]
    assert index.query(codes(1, 2), 0) == [[]]
    assert fork.query(first[:2], 0) == [[], []]
    assert fork.query(codes(1, 2), 0) == [[(30_001, 0)]]
    assert (len(index), len(fork)) == (20_000, 19_999)


def test_a_forked_exact_index_changes_alone() -> None:
    digest, other = bytes.fromhex(MD5), bytes(16)
    index = ExactIndex(16)
    index.add([1], [digest])
    fork = index.fork()
    fork.remove([1])
    fork.add([2], [other])
    assert index.query([digest, other]) == [[1], []]
    assert fork.query([digest, other]) == [[], [2]]


def test_a_forked_entry_table_shares_arrays_until_it_changes_a_held_id() -> None:
    table = EntryTable()
    table.put_many(np.array([1, 2], np.int64), np.array([7, 7], np.int64), "pdq")
    fork = table.fork()
    fork.put_many(np.array([3], np.int64), np.array([8], np.int64), "md5")
    assert fork._banks is table._banks  # a new id: nothing copied
    fork.pop(1)
    assert (table.bank_of(1), fork.bank_of(1), fork.bank_of(3)) == (7, 0, 8)
    assert fork.signal_type_of(3) == "md5" and table.type_names == ["pdq"]
