"""ExactIndex: ids by exact digest, with removal, re-adding and snapshots."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from tutela.errors import InvalidInput
from tutela.matching import ExactIndex


def md5s(*texts: str) -> list[bytes]:
    return [hashlib.md5(text.encode()).digest() for text in texts]


def test_query_returns_the_ids_of_each_digest() -> None:
    index = ExactIndex(16)
    index.add(np.array([1, 2]), md5s("a", "b"))
    assert index.query(md5s("b", "a", "c")) == [[2], [1], []]


def test_digest_carried_by_several_ids_returns_them_sorted() -> None:
    index = ExactIndex(16)
    index.add(np.array([9, 3, 5]), md5s("x", "x", "x"))
    assert index.query(md5s("x")) == [[3, 5, 9]]
    assert len(index) == 3


def test_digests_may_be_a_uint8_array() -> None:
    rng = np.random.default_rng(1)
    digests = rng.integers(0, 256, (4, 32), dtype=np.uint8)
    index = ExactIndex(32)
    index.add(np.arange(4), digests)
    assert index.query(digests[::-1]) == [[3], [2], [1], [0]]
    assert index.query([digests[1].tobytes()]) == [[1]]


def test_digests_sharing_their_first_eight_bytes_stay_apart() -> None:
    a = bytes(8) + b"\x01" * 12
    b = bytes(8) + b"\x02" * 12
    index = ExactIndex(20)
    index.add(np.array([1, 2]), [a, b])
    assert index.query([a, b, bytes(20)]) == [[1], [2], []]


def test_removed_ids_no_longer_match_and_may_be_added_again() -> None:
    index = ExactIndex(16)
    index.add(np.array([1, 2]), md5s("a", "b"))
    assert index.remove(np.array([1, 77])) == 1
    assert index.query(md5s("a", "b")) == [[], [2]]
    index.add(np.array([1]), md5s("a"))
    assert index.query(md5s("a")) == [[1]]
    assert len(index) == 2


def test_large_batches_are_sorted_into_the_arrays_and_stay_searchable() -> None:
    # A batch past the fold size goes straight into the sorted arrays; removal reaches it too.
    rng = np.random.default_rng(2)
    digests = rng.integers(0, 256, (70_000, 16), dtype=np.uint8)
    index = ExactIndex(16)
    index.add(np.arange(70_000), digests)
    index.add(np.array([-1]), md5s("late"))
    assert index.query(digests[[5, 69_999]]) == [[5], [69_999]]
    assert index.remove(np.array([5, -1])) == 2
    assert index.query(digests[[5]]) + index.query(md5s("late")) == [[], []]
    assert len(index) == 69_999


def test_snapshot_round_trip_answers_identically(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    digests = rng.integers(0, 256, (1000, 20), dtype=np.uint8)
    index = ExactIndex(20)
    index.add(np.arange(1000), digests)
    index.remove(np.array([10]))
    index.save(tmp_path / "sha1.idx")
    loaded = ExactIndex.load(tmp_path / "sha1.idx")
    assert loaded.digest_size == 20
    assert len(loaded) == 999
    assert loaded.query(digests) == index.query(digests)


def test_truncated_snapshot_is_rejected(tmp_path: Path) -> None:
    index = ExactIndex(16)
    index.add(np.array([1]), md5s("a"))
    index.save(tmp_path / "a")
    raw = (tmp_path / "a").read_bytes()
    (tmp_path / "b").write_bytes(raw[:-10])
    with pytest.raises(InvalidInput, match="truncated"):
        ExactIndex.load(tmp_path / "b")


def test_pdq_snapshot_is_not_an_exact_snapshot(tmp_path: Path) -> None:
    from tutela.matching import PdqIndex

    PdqIndex.build(np.array([1]), np.zeros((1, 32), np.uint8)).save(tmp_path / "pdq")
    with pytest.raises(InvalidInput, match="not a"):
        ExactIndex.load(tmp_path / "pdq")


@pytest.mark.parametrize(
    "digests",
    [[b"short"], np.zeros((1, 15), np.uint8), np.zeros((1, 16), np.int32), b"x" * 16, [123]],
    ids=["short-bytes", "short-rows", "wrong-dtype", "bare-bytes", "not-bytes"],
)
def test_digests_of_the_wrong_size_or_type_are_rejected(digests: object) -> None:
    with pytest.raises(InvalidInput):
        ExactIndex(16).query(digests)


def test_ids_and_digests_of_different_lengths_are_rejected() -> None:
    with pytest.raises(InvalidInput, match="ids"):
        ExactIndex(16).add(np.array([1, 2]), md5s("a"))


@pytest.mark.parametrize("size", [0, 65, 16.0, True])
def test_digest_size_must_be_a_byte_count_from_1_to_64(size: object) -> None:
    with pytest.raises(InvalidInput):
        ExactIndex(size)  # type: ignore[arg-type]
