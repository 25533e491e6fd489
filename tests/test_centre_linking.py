"""Centre intake under load: cached provider keys and the per-process PDQ index stay correct."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, update

from report_samples import NOW, PDQ_A, PROVIDER, sample_input
from tutela.centre.intake import receive_report
from tutela.centre.linking import (
    MAX_MATERIAL_KEYS,
    PDQ_LINK_DISTANCE,
    PdqLinker,
    material_keys,
)
from tutela.centre.models import CentreProvider, CentreReport, CentreReportHash
from tutela.centre.providers import ProviderKeys, register_provider
from tutela.db import Database
from tutela.errors import UnknownProvider
from tutela.messaging.signing import SignedReport, SigningKey, generate_key_file, sign_report
from tutela.reporting.fields import MatchFacts, ProviderIdentity
from tutela.reporting.report import build_report


def registered_key(tmp_path: Path, database: Database) -> SigningKey:
    key = generate_key_file(tmp_path / "provider.pem")
    with database.unit_of_work() as session:
        register_provider(session, PROVIDER.name, key.public_key_pem(), NOW, "NL")
    return key


def signed(key: SigningKey, case_id: int = 7) -> SignedReport:
    return sign_report(build_report(sample_input(case_id), PROVIDER, NOW), key, NOW)


def test_a_provider_switched_off_is_refused_though_its_key_is_cached(
    tmp_path: Path, database: Database
) -> None:
    key = registered_key(tmp_path, database)
    keys = ProviderKeys()
    first = signed(key)
    receive_report(database, key.key_id, first.body, first.signature, "k-1", NOW, keys=keys)
    with database.unit_of_work() as session:
        session.execute(update(CentreProvider).values(active=False))
    second = signed(key, case_id=8)
    with pytest.raises(UnknownProvider):
        receive_report(database, key.key_id, second.body, second.signature, "k-2", NOW, keys=keys)


def test_a_pdq_row_committed_below_ids_already_read_is_still_found(
    tmp_path: Path, database: Database
) -> None:
    key = registered_key(tmp_path, database)
    report = signed(key)
    stored = receive_report(database, key.key_id, report.body, report.signature, "k-1", NOW)
    linker = PdqLinker()
    late = "0f" * 32  # far from PDQ_A: only its own row can find it
    with database.unit_of_work() as session:
        top = int(session.scalar(select(func.max(CentreReportHash.id))) or 0)
        # A slower intake took id top+1 first; the row at top+2 commits before it.
        session.execute(
            insert(CentreReportHash).values(
                id=top + 2, report_id=stored.id, signal_type="pdq", value=PDQ_A
            )
        )
    with database.reader() as session:
        assert linker.near_reports(session.connection(), [late]) == set()
    with database.unit_of_work() as session:
        session.execute(
            insert(CentreReportHash).values(
                id=top + 1, report_id=stored.id, signal_type="pdq", value=late
            )
        )
    with database.reader() as session:
        assert linker.near_reports(session.connection(), [late]) == {stored.id}


OTHER = ProviderIdentity("Other Video Ltd", "Other Rep", "abuse@other.example", "IE")
ROUNDS = 30


def near_copy(pdq: str, bits: int, rng: random.Random) -> str:
    """`pdq` with `bits` of its bits flipped: the same picture, re-encoded."""
    value = int(pdq, 16)
    for bit in rng.sample(range(256), bits):
        value ^= 1 << bit
    return f"{value:064x}"


Hashes = list[tuple[str, str]]


def materials(kind: str, rng: random.Random) -> list[tuple[Hashes, Hashes]]:
    """Per round, the hashes two providers report of one material: the same hashes (`exact`);
    PDQs at the linking radius and no exact hash in common (`near`); or a near copy against a
    report with too many hashes to lock them one by one (`crowded`)."""
    rounds: list[tuple[Hashes, Hashes]] = []
    for _ in range(ROUNDS):
        pdq = ("pdq", f"{rng.getrandbits(256):064x}")
        near = ("pdq", near_copy(pdq[1], PDQ_LINK_DISTANCE, rng))
        if kind == "exact":
            both = [pdq, ("md5", f"{rng.getrandbits(128):032x}")]
            rounds.append((both, list(both)))
        elif kind == "near":
            rounds.append(([pdq], [near]))
        else:
            others = [("pdq", f"{rng.getrandbits(256):064x}") for _ in range(8)]
            assert len(material_keys([pdq, *others])) > MAX_MATERIAL_KEYS
            rounds.append(([pdq, *others], [near]))
    return rounds


def signed_with(
    key: SigningKey, identity: ProviderIdentity, case_id: int, hashes: Hashes
) -> SignedReport:
    """A report carrying `hashes`: the first of each type as the item's signal, every PDQ as a
    match."""
    signals = {kind: value for kind, value in reversed(hashes)}
    matches = tuple(MatchFacts("test-bank", case_id, k, v, 0) for k, v in hashes if k == "pdq")
    source = sample_input(case_id, matches=matches, signals=signals)
    return sign_report(build_report(source, identity, NOW), key, NOW)


@pytest.mark.parametrize("kind", ["exact", "near", "crowded"])
def test_two_intake_workers_receiving_one_material_at_once_open_one_incident(
    tmp_path: Path, database: Database, kind: str
) -> None:
    first_key = registered_key(tmp_path, database)
    other_key = generate_key_file(tmp_path / "other.pem")
    with database.unit_of_work() as session:
        register_provider(session, OTHER.name, other_key.public_key_pem(), NOW, OTHER.country)
    rounds = materials(kind, random.Random(kind))
    senders = [
        [signed_with(first_key, PROVIDER, 100 + i, a) for i, (a, _) in enumerate(rounds)],
        [signed_with(other_key, OTHER, 100 + i, b) for i, (_, b) in enumerate(rounds)],
    ]
    start = threading.Barrier(2)
    stored: list[list[int]] = [[], []]

    def worker(index: int) -> None:
        # Each worker as a separate intake process: its own PDQ index and key cache.
        linker, keys = PdqLinker(), ProviderKeys()
        try:
            for n, report in enumerate(senders[index]):
                start.wait(timeout=30)
                accepted = receive_report(
                    database,
                    report.key_id,
                    report.body,
                    report.signature,
                    f"r-{n}",
                    NOW,
                    linker,
                    keys,
                )
                stored[index].append(accepted.id)
        except BaseException:
            start.abort()  # the other worker stops at its next round instead of waiting
            raise

    with ThreadPoolExecutor(2) as pool:
        for done in [pool.submit(worker, i) for i in range(2)]:
            done.result()
    with database.reader() as session:
        incident_of = {
            r.id: r.incident_id
            for r in session.execute(select(CentreReport.id, CentreReport.incident_id))
        }
    split = [
        n for n, (a, b) in enumerate(zip(*stored, strict=True)) if incident_of[a] != incident_of[b]
    ]
    assert not split, f"rounds {split} of {ROUNDS} opened two incidents for one material"
    assert len(set(incident_of.values())) == ROUNDS


def test_a_report_joining_an_incident_that_another_merges_away_ends_up_merged_too(
    tmp_path: Path, database: Database
) -> None:
    # Per round: A and B, far apart, have incidents of their own. Then at once, one provider
    # reports C, between them (it bridges the two incidents: one material all along), and the
    # other B2, a near copy of B only. B2 must not stay behind in B's incident once C has merged
    # it into A's.
    first_key = registered_key(tmp_path, database)
    other_key = generate_key_file(tmp_path / "other.pem")
    with database.unit_of_work() as session:
        register_provider(session, OTHER.name, other_key.public_key_pem(), NOW, OTHER.country)
    rng = random.Random(11)
    rounds = []
    for n in range(ROUNDS):
        a = rng.getrandbits(256)
        apart = rng.sample(range(256), 60)
        b = a ^ sum(1 << bit for bit in apart[:50])  # 50 bits from A
        c = a ^ sum(1 << bit for bit in apart[:25])  # 25 from A, 25 from B
        b2 = b ^ sum(1 << bit for bit in apart[50:])  # 10 from B, 35 from C
        rounds.append(
            [
                signed_with(first_key, PROVIDER, 1000 + 4 * n + i, [("pdq", f"{value:064x}")])
                for i, value in enumerate((a, b, c))
            ]
            + [signed_with(other_key, OTHER, 1000 + 4 * n + 3, [("pdq", f"{b2:064x}")])]
        )
    start = threading.Barrier(2)
    stored: dict[tuple[int, int], int] = {}

    def send(report: SignedReport, n: int, i: int, linker: PdqLinker) -> None:
        accepted = receive_report(
            database, report.key_id, report.body, report.signature, f"m-{n}-{i}", NOW, linker
        )
        stored[n, i] = accepted.id

    def racer(i: int) -> None:
        linker = PdqLinker()  # each as a separate intake process
        try:
            for n, reports in enumerate(rounds):
                start.wait(timeout=30)
                send(reports[i], n, i, linker)
        except BaseException:
            start.abort()
            raise

    for n, reports in enumerate(rounds):
        for i in (0, 1):
            send(reports[i], n, i, PdqLinker())
    with ThreadPoolExecutor(2) as pool:
        for done in [pool.submit(racer, i) for i in (2, 3)]:
            done.result()
    with database.reader() as session:
        incident_of = {
            r.id: r.incident_id
            for r in session.execute(select(CentreReport.id, CentreReport.incident_id))
        }
    split = [n for n in range(ROUNDS) if len({incident_of[stored[n, i]] for i in range(4)}) > 1]
    assert not split, f"rounds {split} of {ROUNDS} left a report in an incident merged away"


def test_pdq_hashes_within_the_linking_radius_always_share_a_lock_key() -> None:
    rng = random.Random(5)
    for _ in range(500):
        pdq = f"{rng.getrandbits(256):064x}"
        near = near_copy(pdq, rng.randint(0, PDQ_LINK_DISTANCE), rng)
        assert material_keys([("pdq", pdq)]) & material_keys([("pdq", near)])


def test_exact_hashes_lock_by_type_and_value() -> None:
    md5 = "0123456789abcdef" * 2
    assert material_keys([("md5", md5)]) == material_keys([("md5", md5)])
    assert material_keys([("md5", md5)]) != material_keys([("md5", md5[::-1])])
    assert material_keys([("md5", md5)]) != material_keys([("sha1", md5 + "01234567")])
    assert material_keys([("photodna", "ab" * 72)]) == set()  # not linked, so not locked
