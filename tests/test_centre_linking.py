"""Centre intake under load: cached provider keys and the per-process PDQ index stay correct."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, update

from report_samples import NOW, PDQ_A, PROVIDER, sample_input
from tutela.centre.intake import receive_report
from tutela.centre.linking import PdqLinker
from tutela.centre.models import CentreProvider, CentreReportHash
from tutela.centre.providers import ProviderKeys, register_provider
from tutela.db import Database
from tutela.errors import UnknownProvider
from tutela.reporting.report import build_report
from tutela.reporting.signing import SignedReport, SigningKey, generate_key_file, sign_report


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
