"""PdqIndex: exact Hamming-radius search, checked against numpy brute force on random codes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tutela.errors import InvalidInput
from tutela.matching import PdqIndex, pdq_tables

N = 30_000


def random_codes(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 256, (n, 32), dtype=np.uint8)


def flip(code: np.ndarray, bits: int, rng: np.random.Generator) -> np.ndarray:
    out = code.copy()
    for bit in rng.choice(256, bits, replace=False):
        out[bit // 8] ^= np.uint8(1 << (bit % 8))
    return out


def brute_force(
    ids: np.ndarray, codes: np.ndarray, queries: np.ndarray, radius: int
) -> list[list[tuple[int, int]]]:
    out = []
    for q in queries:
        dist = np.unpackbits(codes ^ q, axis=1).sum(axis=1)
        hits = np.flatnonzero(dist <= radius)
        out.append(sorted(((int(ids[i]), int(dist[i])) for i in hits), key=lambda h: (h[1], h[0])))
    return out


@pytest.fixture(scope="module")
def corpus() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, codes, queries): queries 0..64 bits from stored codes, plus unrelated ones.

    Random codes lie ~128 bits apart, so the planted distances are what every radius tests.
    """
    rng = np.random.default_rng(7)
    codes = random_codes(rng, N)
    ids = rng.permutation(np.arange(10 * N, dtype=np.int64))[:N] - 5 * N  # negatives too
    distances = [0, 3, 8, 9, 20, 28, 31, 32, 33, 40, 45, 46, 55, 63, 64] * 2
    near = [flip(codes[i * 97], bits, rng) for i, bits in enumerate(distances)]
    queries = np.vstack([np.array(near), random_codes(rng, 10)])
    return ids, codes, queries


@pytest.fixture(params=["wide", "narrow"])
def layout(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Tables built while this runs get wide entries (those of 2-32 M codes) or narrow ones (the
    layout of smaller and larger segments), whatever their size."""
    if request.param == "wide":
        monkeypatch.setattr(pdq_tables, "WIDE_MIN_CODES", 0)
    else:
        monkeypatch.setattr(pdq_tables, "WIDE_MAX_CODES", 0)
    return str(request.param)


@pytest.fixture(scope="module")
def built(corpus: tuple[np.ndarray, np.ndarray, np.ndarray]) -> PdqIndex:
    ids, codes, _ = corpus
    return PdqIndex.build(ids, codes)


@pytest.mark.parametrize("radius", [0, 8, 31, 32, 45, 63])
def test_query_equals_brute_force(
    built: PdqIndex, corpus: tuple[np.ndarray, np.ndarray, np.ndarray], radius: int
) -> None:
    ids, codes, queries = corpus
    assert built.query(queries, radius) == brute_force(ids, codes, queries, radius)


@pytest.mark.parametrize("radius", [0, 31, 45])
def test_a_flat_query_gives_the_same_matches_as_rows_of_row_id_distance(
    built: PdqIndex, corpus: tuple[np.ndarray, np.ndarray, np.ndarray], radius: int
) -> None:
    ids, codes, queries = corpus
    rows, found, distances = built.query_flat(queries, radius)
    flat = list(zip(rows.tolist(), found.tolist(), distances.tolist(), strict=True))
    expected = brute_force(ids, codes, queries, radius)
    assert flat == [(row, i, d) for row, hits in enumerate(expected) for i, d in hits]


@pytest.mark.parametrize("radius", [0, 1, 10, 11, 12, 31, 40, 45, 63])
def test_multi_index_path_is_exact_at_every_radius(
    corpus: tuple[np.ndarray, np.ndarray, np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
    radius: int,
    layout: str,
) -> None:
    ids, codes, queries = corpus
    monkeypatch.setattr(pdq_tables, "_NS_PER_SCANNED_CODE", 1e12)  # never choose the scan
    index = PdqIndex.build(ids, codes)
    assert index._main is not None and index._main.plan(radius) is not None
    assert index._main.wide == (layout == "wide")
    assert index.query(queries, radius) == brute_force(ids, codes, queries, radius)


def test_scan_path_is_exact(
    corpus: tuple[np.ndarray, np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids, codes, queries = corpus
    monkeypatch.setattr(pdq_tables, "_NS_PER_SCANNED_CODE", 0.0)  # always choose the scan
    index = PdqIndex.build(ids, codes)
    assert index._main is not None and index._main.plan(31) is None
    assert index.query(queries, 31) == brute_force(ids, codes, queries, 31)


def test_planted_neighbours_within_31_bits_are_all_found_and_farther_ones_are_not() -> None:
    rng = np.random.default_rng(11)
    codes = random_codes(rng, N)
    queries = random_codes(rng, 20)
    planted: dict[int, int] = {}
    row = 0
    for q in queries:
        for bits in range(25, 40):
            codes[row] = flip(q, bits, rng)
            planted[row] = bits
            row += 1
    index = PdqIndex.build(np.arange(N, dtype=np.int64), codes)
    results = index.query(queries, 31)
    found = {(i, d) for hits in results for i, d in hits}
    assert {(i, d) for i, d in planted.items() if d <= 31} <= found
    assert not {i for i, d in planted.items() if d >= 32} & {i for i, _ in found}


def test_results_are_sorted_by_distance_then_id() -> None:
    rng = np.random.default_rng(3)
    base = random_codes(rng, 1)[0]
    codes = np.array([flip(base, bits, rng) for bits in (5, 1, 5, 3, 1, 0)])
    index = PdqIndex.build(np.array([60, 50, 40, 30, 20, 10]), codes)
    assert [d for _, d in index.query(base[None], 31)[0]] == [0, 1, 1, 3, 5, 5]
    assert index.query(base[None], 31)[0] == [(10, 0), (20, 1), (50, 1), (30, 3), (40, 5), (60, 5)]


def test_added_codes_match_at_once(built: PdqIndex) -> None:
    rng = np.random.default_rng(5)
    index = PdqIndex.build(np.arange(1000, dtype=np.int64), random_codes(rng, 1000))
    new = random_codes(rng, 3)
    index.add(np.array([7001, 7002, 7003]), new)
    assert len(index) == 1003
    assert index.query(new, 0) == [[(7001, 0)], [(7002, 0)], [(7003, 0)]]


def test_codes_added_in_many_batches_equal_a_fresh_build() -> None:
    # Enough adds to pass through the scanned tail, the delta tables and a fold into the main.
    rng = np.random.default_rng(6)
    codes = random_codes(rng, 60_000)
    ids = np.arange(60_000, dtype=np.int64)
    index = PdqIndex.build(ids[:5000], codes[:5000])
    for lo in range(5000, 60_000, 2500):
        index.add(ids[lo : lo + 2500], codes[lo : lo + 2500])
    queries = np.array([flip(codes[i], 12, rng) for i in range(0, 60_000, 2000)])
    assert index.query(queries, 31) == brute_force(ids, codes, queries, 31)
    assert index.query(queries, 31) == PdqIndex.build(ids, codes).query(queries, 31)


def test_removed_ids_never_match_again(
    corpus: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    ids, codes, queries = corpus
    index = PdqIndex.build(ids, codes)
    hit_ids = [i for hits in index.query(queries, 31) for i, _ in hits]
    assert hit_ids
    assert index.remove(np.array(hit_ids[:3])) == 3
    assert len(index) == N - 3
    remaining = {i for hits in index.query(queries, 63) for i, _ in hits}
    assert not remaining & set(hit_ids[:3])


def test_removing_an_unknown_id_is_a_no_op(built: PdqIndex) -> None:
    rng = np.random.default_rng(8)
    index = PdqIndex.build(np.arange(10, dtype=np.int64), random_codes(rng, 10))
    assert index.remove(np.array([12345])) == 0
    assert len(index) == 10


def test_removed_id_can_be_added_again() -> None:
    rng = np.random.default_rng(9)
    codes = random_codes(rng, 100)
    index = PdqIndex.build(np.arange(100, dtype=np.int64), codes)
    index.remove(np.array([42]))
    assert index.query(codes[42:43], 0) == [[]]
    index.add(np.array([42]), codes[42:43])
    assert index.query(codes[42:43], 0) == [[(42, 0)]]
    assert len(index) == 100


def test_id_with_several_codes_is_reported_once_at_its_nearest() -> None:
    rng = np.random.default_rng(10)
    base = random_codes(rng, 1)[0]
    index = PdqIndex.build(np.array([1, 1, 2]), np.array([flip(base, 9, rng), base, base]))
    assert index.query(base[None], 31) == [[(1, 0), (2, 0)]]
    index.remove(np.array([1]))
    assert index.query(base[None], 31) == [[(2, 0)]]


def test_dihedral_query_reports_each_id_at_its_best_variant() -> None:
    rng = np.random.default_rng(12)
    variants = random_codes(rng, 8)
    codes = np.array([flip(variants[5], 10, rng), flip(variants[2], 20, rng), variants[3]])
    # id 7 is 10 bits from variant 5 and 20+ from the rest (they are random).
    index = PdqIndex.build(np.array([7, 7, 9]), codes)
    assert index.query_dihedral(variants, 31) == [(9, 0, 3), (7, 10, 5)]


def test_dihedral_ties_go_to_the_lowest_variant() -> None:
    rng = np.random.default_rng(13)
    code = random_codes(rng, 1)[0]
    variants = np.repeat(code[None], 8, axis=0)
    index = PdqIndex.build(np.array([4]), code[None])
    assert index.query_dihedral(variants, 0) == [(4, 0, 0)]


def test_empty_index_matches_nothing() -> None:
    index = PdqIndex()
    rng = np.random.default_rng(14)
    assert len(index) == 0
    assert index.query(random_codes(rng, 2), 63) == [[], []]
    assert index.remove(np.array([1])) == 0


@pytest.mark.parametrize("mmap", [True, False])
def test_snapshot_round_trip_answers_identically(
    tmp_path: Path, corpus: tuple[np.ndarray, np.ndarray, np.ndarray], mmap: bool, layout: str
) -> None:
    ids, codes, queries = corpus
    index = PdqIndex.build(ids, codes)
    rng = np.random.default_rng(15)
    index.add(np.array([-1, -2]), random_codes(rng, 2))  # a scanned tail survives too
    index.remove(ids[:5])
    path = tmp_path / "pdq.idx"
    index.save(path)
    loaded = PdqIndex.load(path, mmap=mmap)
    assert len(loaded) == len(index)
    assert loaded._main is not None and loaded._main.wide == (layout == "wide")
    for radius in (0, 31, 63):
        assert loaded.query(queries, radius) == index.query(queries, radius)


def test_loaded_snapshot_accepts_changes(
    tmp_path: Path, corpus: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    ids, codes, _ = corpus
    PdqIndex.build(ids[:1000], codes[:1000]).save(tmp_path / "pdq.idx")
    loaded = PdqIndex.load(tmp_path / "pdq.idx")
    loaded.remove(ids[:1])
    loaded.add(np.array([123456789]), codes[:1])
    assert loaded.query(codes[:1], 0) == [[(123456789, 0)]]


def saved_snapshot(tmp_path: Path) -> bytes:
    rng = np.random.default_rng(16)
    PdqIndex.build(np.arange(500, dtype=np.int64), random_codes(rng, 500)).save(tmp_path / "a")
    return (tmp_path / "a").read_bytes()


def test_snapshot_with_wrong_magic_is_rejected(tmp_path: Path) -> None:
    raw = bytearray(saved_snapshot(tmp_path))
    raw[:8] = b"NOTANIDX"
    (tmp_path / "b").write_bytes(raw)
    with pytest.raises(InvalidInput, match="not a"):
        PdqIndex.load(tmp_path / "b")


def test_snapshot_with_unknown_version_is_rejected(tmp_path: Path) -> None:
    raw = bytearray(saved_snapshot(tmp_path))
    raw[8:12] = (99).to_bytes(4, "little")
    (tmp_path / "b").write_bytes(raw)
    with pytest.raises(InvalidInput, match="version 99"):
        PdqIndex.load(tmp_path / "b")


@pytest.mark.parametrize("keep", [0, 5, 40, 1000, -1])
def test_truncated_snapshot_is_rejected(tmp_path: Path, keep: int) -> None:
    raw = saved_snapshot(tmp_path)
    (tmp_path / "b").write_bytes(raw[:keep])
    with pytest.raises(InvalidInput):
        PdqIndex.load(tmp_path / "b")


def test_snapshot_with_damaged_header_is_rejected(tmp_path: Path) -> None:
    raw = bytearray(saved_snapshot(tmp_path))
    raw[20:30] = b"\xff" * 10
    (tmp_path / "b").write_bytes(raw)
    with pytest.raises(InvalidInput, match="header"):
        PdqIndex.load(tmp_path / "b")


def test_snapshot_with_table_entry_out_of_range_is_rejected(tmp_path: Path, layout: str) -> None:
    # A table pointing past the codes would make the kernels read outside their arrays.
    rng = np.random.default_rng(17)
    index = PdqIndex.build(np.arange(500, dtype=np.int64), random_codes(rng, 500))
    assert index._main is not None
    entries = index._main.entries
    entries[3, 0] = np.iinfo(entries.dtype).max
    index.save(tmp_path / "b")
    with pytest.raises(InvalidInput, match="outside its segment"):
        PdqIndex.load(tmp_path / "b")


def test_missing_snapshot_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        PdqIndex.load(tmp_path / "absent")


@pytest.mark.parametrize(
    "codes",
    [
        np.zeros((2, 31), np.uint8),
        np.zeros((2, 32), np.int64),
        np.zeros(32, np.uint8),
        np.zeros((2, 4), np.uint64),
        [[0] * 32],
    ],
    ids=["short-rows", "wrong-dtype", "one-dimensional", "uint64-words", "list"],
)
def test_queries_of_the_wrong_shape_or_dtype_are_rejected(built: PdqIndex, codes: object) -> None:
    with pytest.raises(InvalidInput):
        built.query(codes, 31)  # type: ignore[arg-type]


@pytest.mark.parametrize("radius", [-1, 256, 31.0, True, "31"])
def test_radius_outside_0_to_255_or_not_an_integer_is_rejected(
    built: PdqIndex, radius: object
) -> None:
    with pytest.raises(InvalidInput):
        built.query(np.zeros((1, 32), np.uint8), radius)  # type: ignore[arg-type]


def test_ids_and_codes_of_different_lengths_are_rejected() -> None:
    with pytest.raises(InvalidInput, match="ids"):
        PdqIndex.build(np.arange(3), np.zeros((2, 32), np.uint8))


def test_ids_that_are_not_integers_are_rejected() -> None:
    with pytest.raises(InvalidInput):
        PdqIndex().add(np.array([1.5]), np.zeros((1, 32), np.uint8))
    with pytest.raises(InvalidInput):
        PdqIndex().remove(np.zeros((2, 2), np.int64))


def test_dihedral_query_needs_eight_variants(built: PdqIndex) -> None:
    with pytest.raises(InvalidInput, match="8 rows"):
        built.query_dihedral(np.zeros((7, 32), np.uint8), 31)


def test_memory_stays_near_codes_plus_tables(built: PdqIndex) -> None:
    # codes 32 B + id 8 B + alive 1 B + 11 narrow (uint32) entries per code, plus the offsets.
    per_code = 32 + 8 + 1 + 11 * 4
    assert built._main is not None
    assert built.memory_bytes() == N * per_code + built._main.offsets.nbytes


@pytest.mark.parametrize("scan_cost", [1e12, 0.0], ids=["multi-index", "scan"])
def test_queries_with_thousands_of_matches_return_them_all(
    monkeypatch: pytest.MonkeyPatch, scan_cost: float
) -> None:
    # More matches than the kernels' first output arrays hold: they must resume, not drop any.
    monkeypatch.setattr(pdq_tables, "_NS_PER_SCANNED_CODE", scan_cost)
    rng = np.random.default_rng(18)
    base = random_codes(rng, 1)[0]
    codes = np.array([flip(base, int(rng.integers(0, 12)), rng) for _ in range(6000)])
    ids = np.arange(6000, dtype=np.int64)
    queries = np.vstack([base, flip(base, 5, rng), random_codes(rng, 1)])
    index = PdqIndex.build(ids, codes)
    assert len(index.query(queries, 31)[0]) == 6000
    assert index.query(queries, 31) == brute_force(ids, codes, queries, 31)


def test_compact_drops_removed_codes_and_keeps_answers(
    corpus: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    ids, codes, queries = corpus
    index = PdqIndex.build(ids, codes)
    index.remove(ids[: N // 2])
    before = index.query(queries, 31)
    index.compact()
    assert len(index) == N - N // 2
    assert index.query(queries, 31) == before
    assert index.memory_bytes() < PdqIndex.build(ids, codes).memory_bytes() * 0.6


def test_a_large_batch_added_to_a_live_index_matches_at_once() -> None:
    rng = np.random.default_rng(19)
    n = 400_000
    index = PdqIndex.build(np.arange(n, dtype=np.int64), random_codes(rng, n))
    new = random_codes(rng, 20_000)  # past the scanned tail, short of a fold: delta tables
    index.add(np.arange(n, n + 20_000, dtype=np.int64), new)
    assert index._delta is not None and index._delta.end == n + 20_000
    queries = np.array([flip(new[i], 30, rng) for i in range(0, 20_000, 1000)])
    results = index.query(queries, 31)
    assert [hits[0] for hits in results] == [(n + i, 30) for i in range(0, 20_000, 1000)]


def test_main_delta_and_tail_together_answer_like_a_fresh_build() -> None:
    rng = np.random.default_rng(20)
    codes = random_codes(rng, 315_000)
    ids = np.arange(315_000, dtype=np.int64)
    index = PdqIndex.build(ids[:300_000], codes[:300_000])
    for lo in range(300_000, 315_000, 1000):
        index.add(ids[lo : lo + 1000], codes[lo : lo + 1000])
    assert index._delta is not None and index._delta.end < 315_000  # and a scanned tail
    queries = np.array([flip(codes[i], 25, rng) for i in range(0, 315_000, 15_000)])
    for radius in (0, 31, 45):
        assert index.query(queries, radius) == PdqIndex.build(ids, codes).query(queries, radius)


def test_empty_index_survives_a_snapshot(tmp_path: Path) -> None:
    PdqIndex().save(tmp_path / "empty.idx")
    loaded = PdqIndex.load(tmp_path / "empty.idx")
    assert len(loaded) == 0
    assert loaded.query(np.zeros((1, 32), np.uint8), 31) == [[]]
    loaded.add(np.array([5]), np.zeros((1, 32), np.uint8))
    assert loaded.query(np.zeros((1, 32), np.uint8), 0) == [[(5, 0)]]


def test_folding_new_codes_into_the_main_tables_merges_them_in_place() -> None:
    rng = np.random.default_rng(21)
    codes = random_codes(rng, 110_000)
    ids = np.arange(110_000, dtype=np.int64)
    index = PdqIndex.build(ids[:100_000], codes[:100_000])
    assert index._main is not None
    bits = index._main.bucket_bits
    index.remove(ids[:10])  # removed before the fold: their old entries stay, unmatched
    for lo in range(100_000, 110_000, 1000):
        index.add(ids[lo : lo + 1000], codes[lo : lo + 1000])
    assert index._main.end >= 109_000 and index._main.bucket_bits == bits  # merged, not rebuilt
    queries = np.array([flip(codes[i], 20, rng) for i in range(0, 110_000, 5000)])
    expected = brute_force(ids[10:], codes[10:], queries, 31)
    assert index.query(queries, 31) == expected


def test_merged_tables_are_identical_to_tables_built_from_scratch(layout: str) -> None:
    rng = np.random.default_rng(22)
    codes = random_codes(rng, 109_000)
    ids = np.arange(109_000, dtype=np.int64)
    index = PdqIndex.build(ids[:100_000], codes[:100_000])
    index.add(ids[100_000:], codes[100_000:])  # one batch past the delta's share: a fold
    fresh = PdqIndex.build(ids, codes)
    assert index._main is not None and fresh._main is not None and index._delta is None
    assert np.array_equal(index._main.offsets, fresh._main.offsets)
    assert np.array_equal(index._main.entries, fresh._main.entries)


def spread_code(query: np.ndarray, spread: list[int], rng: np.random.Generator) -> np.ndarray:
    """A code differing from the query in spread[t] random bits of each substring t."""
    code = query.copy()
    for t, bits in enumerate(spread):
        start = int(pdq_tables.SUB_START[t])
        for bit in rng.choice(int(pdq_tables.SUB_LEN[t]), bits, replace=False) + start:
            code[bit // 8] ^= np.uint8(1 << (bit % 8))
    return code


@pytest.mark.parametrize("radius", [5, 8, 31, 32, 40])
def test_a_code_that_only_one_table_can_see_is_found(
    monkeypatch: pytest.MonkeyPatch, radius: int, layout: str
) -> None:
    # The pigeonhole's worst case: exactly radii[t] + 1 differing bits in every substring but one,
    # radii[t] in that one, so the code sits at exactly `radius` and only table t can find it.
    monkeypatch.setattr(pdq_tables, "_NS_PER_SCANNED_CODE", 1e12)
    rng = np.random.default_rng(23)
    query = random_codes(rng, 1)[0]
    index = PdqIndex.build(np.arange(1000, dtype=np.int64), random_codes(rng, 1000))
    assert index._main is not None
    plan = index._main.plan(radius)
    assert plan is not None and int((plan.radii + 1).clip(0).sum()) == radius + 1
    radii = plan.radii
    planted: list[np.ndarray] = []
    for lucky in np.flatnonzero(radii >= 0):
        spread = [int(r) + (0 if t == lucky else 1) if r >= 0 else 0 for t, r in enumerate(radii)]
        planted += [spread_code(query, spread, rng) for _ in range(10)]
    ids = np.arange(10_000, 10_000 + len(planted), dtype=np.int64)
    index.add(ids, np.array(planted))
    index.compact()  # the planted codes into the tables, not the scanned tail
    found = dict(index.query(query[None], radius)[0])
    assert {int(i): radius for i in ids} == {i: d for i, d in found.items() if i >= 10_000}


@pytest.mark.parametrize("radius", [0, 3, 10, 11, 31, 40])
def test_every_spread_within_the_radius_has_a_ring_start_whose_table_is_probed(
    radius: int,
) -> None:
    # The pigeonring's promise, which every probe relies on: bits spread over the tables in any
    # way, in total at most the radius, leave some table t from which every run round the ring
    # keeps within its share; and t is a probed table (its own share covers its bits).
    kernels = pdq_tables._kernels()
    rng = np.random.default_rng(31)
    radii = pdq_tables.plan_radii(10**6, 20, radius)
    assert radii is not None
    units = pdq_tables.ring_units(radii, radius)
    m = pdq_tables.TABLES
    assert int(units.sum()) == m * radius
    assert np.array_equal(np.floor_divide(units, m), radii)
    for _ in range(3000):
        total = int(rng.integers(0, radius + 1))
        weights = rng.dirichlet(np.full(m, rng.choice([0.1, 1.0, 10.0])))
        spread = rng.multinomial(total, weights).astype(np.int64)
        starts = [t for t in range(m) if kernels._ring_holds(spread, units, t)]
        assert starts, spread.tolist()
        assert all(spread[t] <= radii[t] for t in starts)


@pytest.mark.parametrize("radius", [8, 31])
def test_codes_spread_every_way_within_the_radius_are_each_found_once(
    monkeypatch: pytest.MonkeyPatch, radius: int, layout: str
) -> None:
    # Neighbours whose differing bits crowd into one table, a run of tables, or spread evenly:
    # the cases where a probe's check of two tables, or the owner's choice, could go wrong.
    monkeypatch.setattr(pdq_tables, "_NS_PER_SCANNED_CODE", 1e12)
    rng = np.random.default_rng(37)
    query = random_codes(rng, 1)[0]
    m = pdq_tables.TABLES
    spreads: list[list[int]] = []
    for total in (radius, radius - 1, radius + 1):
        for crowd in (0.05, 1.0, 50.0):
            for _ in range(40):
                weights = rng.dirichlet(np.full(m, crowd))
                spread = rng.multinomial(total, weights)
                spreads.append(np.minimum(spread, pdq_tables.SUB_LEN - 1).tolist())
    planted = np.array([spread_code(query, spread, rng) for spread in spreads])
    index = PdqIndex.build(np.arange(2000, dtype=np.int64), random_codes(rng, 2000))
    ids = np.arange(10_000, 10_000 + len(planted), dtype=np.int64)
    index.add(ids, planted)
    index.compact()
    assert index._main is not None and index._main.wide == (layout == "wide")
    # Each once from the tables themselves (PdqIndex would hide a repeat).
    _, positions, _ = pdq_tables.search_segment(
        query[None].view(np.uint64), index._words, index._alive, index._main, radius
    )
    assert len(set(positions.tolist())) == len(positions)
    found = index.query(query[None], radius)[0]
    assert [(i, d) for i, d in found if i >= 10_000] == brute_force(
        ids, planted, query[None], radius
    )[0]
