"""The evidence vault (Art 22): encrypted at rest, readable only with its key, kept only as long
as the law allows, every opening audited."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from database_dump import every_cell
from tutela.audit.log import Action, list_entries
from tutela.audit.verify import verify_chain
from tutela.clock import FixedClock
from tutela.db import Database
from tutela.enforcement.vault import PreservationReason, Vault, rotate_master_key
from tutela.enforcement.vault_models import VaultBlob, VaultRecord
from tutela.errors import ConfigurationError, EvidenceExpired, InvalidInput, NotFound, TamperedData
from tutela.master_key import MasterKey, generate_master_key

REPORTED = datetime(2025, 2, 1, 12, 0, tzinfo=UTC)
# Benign stand-in for preserved content: a marker no file or table could hold by chance.
MARKER = b"TUTELA-BENIGN-TEST-CONTENT-" + secrets.token_hex(16).encode()
META_MARKER = "benign-uploader-" + secrets.token_hex(8)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(REPORTED + timedelta(hours=1))


@pytest.fixture
def vault(clock: FixedClock) -> Vault:
    return Vault(generate_master_key(), clock=clock)


def preserve(
    database: Database, vault: Vault, content: bytes = MARKER, retention_from: datetime = REPORTED
) -> int:
    with database.unit_of_work() as session:
        view = vault.preserve(
            session,
            "upload-1",
            content,
            {"uploader": META_MARKER, "ip": "192.0.2.1", "port": 4711},
            PreservationReason.REPORT,
            retention_from,
        )
    return view.id


def test_content_and_metadata_are_nowhere_in_clear(
    database: Database, vault: Vault, tmp_path: Path
) -> None:
    preserve(database, vault)
    preserve(database, vault, MARKER * 3)
    for cell in every_cell(database):
        assert MARKER not in cell
        assert META_MARKER.encode() not in cell
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files or database.dialect == "postgresql"
    for path in files:
        data = path.read_bytes()  # the SQLite file, its WAL and shared memory included
        assert MARKER not in data, path.name
        assert META_MARKER.encode() not in data, path.name


def test_opened_evidence_is_what_was_preserved(database: Database, vault: Vault) -> None:
    record_id = preserve(database, vault)
    evidence = vault.open(database, record_id, "user:1", "prepare report")
    assert evidence.content == MARKER
    assert evidence.metadata == {"uploader": META_MARKER, "ip": "192.0.2.1", "port": 4711}
    assert MARKER.decode() not in repr(evidence)


def test_opening_is_audited_with_its_purpose(database: Database, vault: Vault) -> None:
    record_id = preserve(database, vault)
    vault.open(database, record_id, "user:7", "answer authority request")
    with database.reader() as session:
        opened = list_entries(session, action=Action.VAULT_OPEN)
        assert verify_chain(session).intact
    assert [(e.actor, e.subject, e.details) for e in opened] == [
        ("user:7", ("vault_record", str(record_id)), {"purpose": "answer authority request"})
    ]


def test_each_record_gets_its_own_data_key(database: Database, vault: Vault) -> None:
    first, second = preserve(database, vault), preserve(database, vault)
    with database.reader() as session:
        keys = session.scalars(select(VaultRecord.wrapped_key).order_by(VaultRecord.id)).all()
        blobs = session.scalars(select(VaultBlob.content).order_by(VaultBlob.record_id)).all()
    assert (first, second) and keys[0] != keys[1]
    assert blobs[0] != blobs[1]


def test_retention_runs_twelve_months_from_the_report_by_default(
    database: Database, vault: Vault
) -> None:
    with database.unit_of_work() as session:
        view = vault.preserve(session, "u", b"x", {}, "report", REPORTED)
    assert view.expires_at == REPORTED + timedelta(days=365)


def test_an_unlisted_purpose_is_refused(database: Database, vault: Vault) -> None:
    with pytest.raises(InvalidInput, match=r"Art 22\(1\)"), database.unit_of_work() as session:
        vault.preserve(session, "u", b"x", {}, "curiosity", REPORTED)


def test_purge_destroys_exactly_the_expired_records(
    database: Database, vault: Vault, clock: FixedClock
) -> None:
    old = preserve(database, vault, retention_from=REPORTED)
    young = preserve(database, vault, retention_from=REPORTED + timedelta(days=30))
    clock.set(REPORTED + timedelta(days=365))
    assert vault.purge(database) == [old]
    assert vault.purge(database) == []
    assert vault.open(database, young, "user:1", "check").content == MARKER
    with database.reader() as session:
        destroyed = session.get(VaultRecord, old)
        assert destroyed is not None and destroyed.wrapped_key is None
        assert session.get(VaultBlob, old) is None
        assert session.get(VaultBlob, young) is not None


def test_opening_a_destroyed_record_says_it_expired(
    database: Database, vault: Vault, clock: FixedClock
) -> None:
    record_id = preserve(database, vault)
    clock.advance(timedelta(days=400))
    vault.purge(database)
    with pytest.raises(EvidenceExpired, match=r"expired on .* and was destroyed on"):
        vault.open(database, record_id, "user:1", "check")


def test_a_record_past_expiry_cannot_be_opened_even_before_the_purge(
    database: Database, vault: Vault, clock: FixedClock
) -> None:
    record_id = preserve(database, vault)
    clock.advance(timedelta(days=400))
    with pytest.raises(EvidenceExpired, match="awaits destruction"):
        vault.open(database, record_id, "user:1", "check")


def test_opening_an_unknown_record_is_not_found(database: Database, vault: Vault) -> None:
    with pytest.raises(NotFound):
        vault.open(database, 404, "user:1", "check")


def test_an_extension_keeps_a_record_past_its_first_expiry(
    database: Database, vault: Vault, clock: FixedClock
) -> None:
    record_id = preserve(database, vault)
    until = REPORTED + timedelta(days=500)
    vault.extend(database, record_id, until, "Court order 12/2025 for ongoing redress", "user:2")
    clock.set(REPORTED + timedelta(days=450))
    assert vault.purge(database) == []
    assert vault.open(database, record_id, "user:2", "proceedings").content == MARKER
    with database.reader() as session:
        (extended,) = list_entries(session, action=Action.VAULT_EXTEND)
    assert extended.details["legal_reason"] == "Court order 12/2025 for ongoing redress"


def test_an_extension_without_a_legal_reason_is_refused(database: Database, vault: Vault) -> None:
    record_id = preserve(database, vault)
    with pytest.raises(InvalidInput, match="legal reason"):
        vault.extend(database, record_id, REPORTED + timedelta(days=500), "  ", "user:2")


def test_an_extension_cannot_shorten_retention(database: Database, vault: Vault) -> None:
    record_id = preserve(database, vault)
    with pytest.raises(InvalidInput, match="after the current one"):
        vault.extend(database, record_id, REPORTED + timedelta(days=10), "Court order", "user:2")


def test_tampered_ciphertext_is_a_typed_error(database: Database, vault: Vault) -> None:
    record_id = preserve(database, vault)
    with database.unit_of_work() as session:
        blob = session.get(VaultBlob, record_id)
        assert blob is not None
        flipped = bytearray(blob.content)
        flipped[20] ^= 0x01
        blob.content = bytes(flipped)
    with pytest.raises(TamperedData, match="integrity check"):
        vault.open(database, record_id, "user:1", "check")


def test_ciphertext_moved_to_another_record_does_not_open(database: Database, vault: Vault) -> None:
    first, second = preserve(database, vault), preserve(database, vault, b"other benign bytes")
    with database.unit_of_work() as session:
        session.execute(
            update(VaultRecord)
            .where(VaultRecord.id == second)
            .values(
                wrapped_key=select(VaultRecord.wrapped_key)
                .where(VaultRecord.id == first)
                .scalar_subquery()
            )
        )
        moved = session.get(VaultBlob, first)
        target = session.get(VaultBlob, second)
        assert moved is not None and target is not None
        target.content = moved.content
    with pytest.raises(TamperedData):
        vault.open(database, second, "user:1", "check")


def test_rotation_keeps_records_readable_with_the_new_key_only(
    database: Database, vault: Vault, clock: FixedClock
) -> None:
    record_ids = [preserve(database, vault) for _ in range(3)]
    with database.reader() as session:
        before = session.scalars(select(VaultBlob.content).order_by(VaultBlob.record_id)).all()
    new_key = generate_master_key()
    rotated = rotate_master_key(database, vault.master_key, new_key, actor="cli", now=clock.now())
    assert rotated == 3
    with database.reader() as session:
        after = session.scalars(select(VaultBlob.content).order_by(VaultBlob.record_id)).all()
    assert before == after  # ciphertext untouched
    new_vault = Vault(new_key, clock=clock)
    assert all(new_vault.open(database, i, "u:1", "c").content == MARKER for i in record_ids)
    with pytest.raises(ConfigurationError, match="wrapped by master key"):
        vault.open(database, record_ids[0], "user:1", "check")


def test_a_wrapped_key_unwrapped_with_the_wrong_master_key_is_tampered(
    database: Database, vault: Vault
) -> None:
    record_id = preserve(database, vault)
    impostor = Vault(MasterKey(b"\x01" * 32), clock=vault.clock)
    with database.unit_of_work() as session:
        session.execute(
            update(VaultRecord)
            .where(VaultRecord.id == record_id)
            .values(key_id=impostor.master_key.key_id)
        )
    with pytest.raises(TamperedData, match="wrapped key"):
        impostor.open(database, record_id, "user:1", "check")


def test_content_is_not_kept_when_its_period_is_already_over(
    database: Database, vault: Vault
) -> None:
    with pytest.raises(InvalidInput, match="already over"), database.unit_of_work() as session:
        vault.preserve(session, "u", b"x", {}, "report", REPORTED - timedelta(days=400))
