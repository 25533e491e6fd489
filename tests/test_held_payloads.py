"""Content held for review (DESIGN ground rule 2): an upload whose verdict opens a case waits for
its reviewer sealed under the vault master key, never in plaintext, and stays readable through
the preview, the confirmation and a master-key rotation."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from database_dump import every_cell
from password_hashing import CHEAP
from provider_fixtures import make_bank
from review_fixtures import METADATA, add_people, jpeg_bytes, photo, with_vault
from tutela.auth import passwords
from tutela.clock import utc_now
from tutela.db.database import Database, open_database
from tutela.detection.held_payloads import held_content
from tutela.detection.items import accept_upload, get_item
from tutela.detection.models import ItemPayload
from tutela.detection.worker import run_worker
from tutela.enforcement.vault import Vault, rotate_master_key
from tutela.errors import ConfigurationError, TamperedData
from tutela.master_key import MasterKey, generate_master_key, load_master_key
from tutela.review import case_views
from tutela.review.decisions import Decision, decide
from tutela.settings import Settings

# The detection pipeline is being reworked by its owner (see review_fixtures._run_detection).
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SADeprecationWarning")
Node = tuple[Database, Settings]
UPLOADS = ("astronaut", "coffee")


@pytest.fixture
def node(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Node]:
    """A node (SQLite, and PostgreSQL when given) with a vault key, a verified bank of the
    photos, and reviewers."""
    passwords._dummy_hash.cache_clear()
    monkeypatch.setattr(passwords, "_hasher", lambda: CHEAP)
    keyed = with_vault(settings)
    database = open_database(keyed)
    make_bank(database, "known", [photo(name) for name in UPLOADS])
    add_people(database)
    try:
        yield database, keyed
    finally:
        database.close()
        passwords._dummy_hash.cache_clear()


def upload(database: Database, name: str) -> tuple[int, bytes]:
    """Accept a re-encoded copy of a banked photo; its row id and its bytes."""
    data = jpeg_bytes(photo(name))
    item = accept_upload(
        database, f"upload-{name}", {"item_id": f"upload-{name}", **METADATA}, data
    )
    return item.id, data


def work(database: Database, settings: Settings, item_ids: list[int]) -> list[int]:
    """Run a detection worker (the real one: run_worker) until the items have their verdicts;
    their case ids."""
    stop, ready = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            run_worker(settings, stop=stop, database=database, on_ready=ready.set)
        except BaseException as error:
            errors.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while not all(get_item(database, i).status == "done" for i in item_ids):
            assert not errors and time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join(60)
    assert errors == [] and not worker.is_alive()
    cases = [get_item(database, i).case_id for i in item_ids]
    assert all(case is not None for case in cases)
    return [int(case) for case in cases if case is not None]


def payload_row(database: Database, item_id: int) -> ItemPayload:
    with database.reader() as session:
        row = session.get(ItemPayload, item_id)
        assert row is not None
        session.expunge(row)
        return row


def distinctive(data: bytes) -> bytes:
    """A run of the upload's bytes from its middle (entropy-coded: found nowhere by chance)."""
    middle = len(data) // 2
    return data[middle : middle + 32]


def read_held(database: Database, item_id: int, key: MasterKey | None) -> bytes | None:
    with database.reader() as session:
        return held_content(session, item_id, key)


def test_payload_of_an_item_whose_verdict_opens_a_case_is_sealed_in_place(node: Node) -> None:
    database, settings = node
    item_id, data = upload(database, "astronaut")
    assert payload_row(database, item_id).data == data  # plaintext while awaiting hashing

    work(database, settings, [item_id])

    row = payload_row(database, item_id)
    key = load_master_key(settings)
    assert row.key_id == key.key_id and row.wrapped_key
    assert distinctive(data) not in bytes(row.data)
    assert not any(distinctive(data) in cell for cell in every_cell(database))
    assert read_held(database, item_id, key) == data


def test_case_preview_and_confirmation_read_the_sealed_content(node: Node) -> None:
    database, settings = node
    item_id, data = upload(database, "coffee")
    (case_id,) = work(database, settings, [item_id])

    assert case_views.held_content(database, case_id, settings) == data
    assert case_views.case_content(database, case_id, "user:test", settings, "test") == data
    view = decide(database, case_id, "rita", Decision.CONFIRM_KNOWN, settings=settings)

    assert view.status == "confirmed"
    with database.reader() as session:
        assert session.get(ItemPayload, item_id) is None  # deleted once in the vault
    record_id = view.effects["vault"]["record_id"]
    evidence = Vault.from_settings(settings).open(database, record_id, "user:test", "test")
    assert evidence.content == data


def test_rotation_rewraps_the_data_keys_of_held_payloads(node: Node) -> None:
    database, settings = node
    (item_id, data), (other_id, other) = upload(database, "astronaut"), upload(database, "coffee")
    work(database, settings, [item_id, other_id])
    old, new = load_master_key(settings), generate_master_key()
    before = payload_row(database, item_id)

    rotate_master_key(database, old, new, actor="cli", now=utc_now())

    after = payload_row(database, item_id)
    assert after.key_id == new.key_id and after.wrapped_key != before.wrapped_key
    assert after.data == before.data  # ciphertext untouched
    assert read_held(database, item_id, new) == data
    assert read_held(database, other_id, new) == other
    with pytest.raises(ConfigurationError, match="configured key"):
        read_held(database, item_id, old)
    rotated = dataclasses.replace(settings, vault_key=new.encode())
    case_id = get_item(database, item_id).case_id
    assert case_id is not None
    assert case_views.held_content(database, case_id, rotated) == data


def test_without_a_vault_key_the_payload_stays_plaintext_and_the_worker_warns(
    node: Node, caplog: pytest.LogCaptureFixture
) -> None:
    database, settings = node
    keyless = dataclasses.replace(settings, vault_key=None)
    item_id, data = upload(database, "astronaut")

    with caplog.at_level(logging.WARNING, logger="tutela.detection"):
        (case_id,) = work(database, keyless, [item_id])

    warnings = [r.getMessage() for r in caplog.records if r.name == "tutela.detection"]
    assert len(warnings) == 1
    assert "unencrypted" in warnings[0] and "TUTELA_VAULT_KEY" in warnings[0]
    row = payload_row(database, item_id)
    assert (row.data, row.key_id, row.wrapped_key) == (data, None, None)
    assert case_views.held_content(database, case_id, keyless) == data


def test_sealed_payload_without_a_configured_key_is_a_configuration_error(node: Node) -> None:
    database, settings = node
    item_id, _ = upload(database, "astronaut")
    (case_id,) = work(database, settings, [item_id])
    keyless = dataclasses.replace(settings, vault_key=None)

    with pytest.raises(ConfigurationError, match="TUTELA_VAULT_KEY"):
        case_views.held_content(database, case_id, keyless)


def test_altered_sealed_payload_is_tampered_data(node: Node) -> None:
    database, settings = node
    item_id, _ = upload(database, "astronaut")
    work(database, settings, [item_id])
    sealed = bytes(payload_row(database, item_id).data)
    altered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with database.unit_of_work() as session:
        session.execute(
            update(ItemPayload).where(ItemPayload.item_id == item_id).values(data=altered)
        )

    with pytest.raises(TamperedData):
        read_held(database, item_id, load_master_key(settings))


def test_sealed_payload_moved_to_another_item_is_tampered_data(node: Node) -> None:
    database, settings = node
    (item_id, _), (other_id, _) = upload(database, "astronaut"), upload(database, "coffee")
    work(database, settings, [item_id, other_id])
    moved = payload_row(database, item_id)
    with database.unit_of_work() as session:
        # Ciphertext and data key together: the associated data still binds them to their item.
        session.execute(
            update(ItemPayload)
            .where(ItemPayload.item_id == other_id)
            .values(data=moved.data, wrapped_key=moved.wrapped_key)
        )

    with pytest.raises(TamperedData):
        read_held(database, other_id, load_master_key(settings))
