"""The streaming evidence vault (issue 17): content too large for memory (a video) is sealed as a
stream of AES-GCM chunks, written from a file and read back chunk by chunk with bounded memory;
a chunk altered, reordered or cut off is refused (TamperedData). A matched video upload is held
sealed for its review before its spooled file goes, a worker killed in between loses nothing, and
its confirmation preserves it in the vault and reports it to the centre and to NCMEC."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import io
import json
import multiprocessing as mp
import re
import secrets
import signal
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select, update

import test_ncmec_reporting as ncmec_tests
from database_dump import every_cell
from password_hashing import CHEAP
from provider_fixtures import in_process_client
from review_fixtures import METADATA, PASSWORD, add_people, with_vault
from test_ncmec_reporting import FakeCyberTipline, cybertipline
from tutela.auth import passwords
from tutela.auth.sessions import log_in
from tutela.auth.users import create_user
from tutela.centre import report_shape
from tutela.centre.intake import receive_report
from tutela.centre.providers import register_provider
from tutela.clock import FixedClock, utc_now
from tutela.db.database import Database, open_database
from tutela.detection import held_payloads
from tutela.detection.held_payloads import held_stream, row_chunks
from tutela.detection.items import get_item
from tutela.detection.models import ItemPayload, ItemPayloadChunk, Job
from tutela.detection.video_queue import QUEUE_DIRECTORY, sweep_orphans
from tutela.enforcement import vault as vault_module
from tutela.enforcement.vault import PreservationReason, Vault
from tutela.enforcement.vault_models import VaultChunk
from tutela.errors import EvidenceExpired, MalformedReport, TamperedData
from tutela.indicators import banks
from tutela.indicators.video_banks import add_video_indicator
from tutela.master_key import generate_master_key, load_master_key
from tutela.messaging.crypto import ChunkReader, StreamSealer, new_data_key, unseal_stream
from tutela.messaging.outbox import deliver_due
from tutela.messaging.outbox_models import OutboxMessage
from tutela.messaging.signing import default_key_file, generate_key_file, load_key_file
from tutela.nodes.centre import create_centre_app
from tutela.nodes.provider_sending import provider_transports
from tutela.reporting.transports.ncmec import store_credentials
from tutela.review import confirmation
from tutela.review.decisions import Decision, decide
from tutela.settings import Settings
from tutela.signals.vpdq import vpdq_of_file
from tutela.ui.access import SESSION_COOKIE
from vault_stream_workers import decide_one_video, killed_while_deciding
from video_scenes import pan, slideshow_frames, video

__all__ = ["cybertipline"]
AAD = b"tutela-test/stream"
REPORTED = datetime(2025, 2, 1, 12, 0, tzinfo=UTC)
MiB = 1024 * 1024
MOVIE = slideshow_frames(["astronaut", "coffee"]) + pan("rocket", 2)


# -- the stream format (tutela.messaging.crypto) --------------------------------------------------


def sealed(data: bytes, chunk_bytes: int = 1000) -> tuple[bytes, bytes, list[bytes]]:
    key = new_data_key()
    sealer = StreamSealer(key, AAD, chunk_bytes=chunk_bytes)
    chunks = list(sealer.chunks(io.BytesIO(data)))
    assert sealer.plaintext_bytes == len(data)
    return key, sealer.header, chunks


def opened(key: bytes, header: bytes, chunks: list[bytes], aad: bytes = AAD) -> bytes:
    return b"".join(unseal_stream(key, header, chunks, aad, "the test stream"))


@pytest.mark.parametrize("size", [0, 1, 999, 1000, 3000, 3500])
def test_a_stream_round_trips_in_chunks_of_its_size(size: int) -> None:
    data = secrets.token_bytes(size)
    key, header, chunks = sealed(data)
    assert len(chunks) == max(1, -(-size // 1000))
    assert all(len(chunk) == 1000 + 16 for chunk in chunks[:-1])
    assert opened(key, header, chunks) == data


def test_an_altered_reordered_cut_or_extended_stream_is_refused() -> None:
    data = secrets.token_bytes(3000)  # three full chunks: the last is full too
    key, header, chunks = sealed(data)
    _, other_header, other_chunks = sealed(data)
    flipped = bytearray(chunks[1])
    flipped[5] ^= 1
    cases = {
        "altered": [chunks[0], bytes(flipped), chunks[2]],
        "reordered": [chunks[1], chunks[0], chunks[2]],
        "cut short": chunks[:2],
        "final chunk alone": chunks[2:],
        "repeated": [chunks[0], chunks[0], chunks[1], chunks[2]],
        "extended": [*chunks, chunks[2]],
        "mixed with another stream": [chunks[0], other_chunks[1], chunks[2]],
        "empty": [],
    }
    for name, altered in cases.items():
        with pytest.raises(TamperedData):
            opened(key, header, altered)
        assert name  # (the case that failed shows in the traceback's locals)
    with pytest.raises(TamperedData):
        opened(key, other_header, chunks)  # another stream's header (its nonce)
    with pytest.raises(TamperedData):
        opened(key, header, chunks, aad=b"another record")
    with pytest.raises(TamperedData):
        opened(key, b"XXXX" + header[4:], chunks)


def test_a_chunk_reader_reads_forwards_and_tells_its_length() -> None:
    reader = ChunkReader([b"abc", b"", b"defg"], length=7)
    assert reader.seek(0, io.SEEK_END) == 7 and reader.seek(0) == 0
    assert reader.read(2) == b"ab" and reader.read() == b"cdefg" and reader.read(1) == b""
    with pytest.raises(io.UnsupportedOperation):
        reader.seek(3)


# -- the vault's streamed records ---------------------------------------------------------------


@pytest.fixture
def vault() -> Vault:
    return Vault(generate_master_key(), clock=FixedClock(REPORTED + timedelta(hours=1)))


def file_chunks(path: Path, size: int = 256 * 1024) -> Iterator[bytes]:
    with path.open("rb") as file:
        while block := file.read(size):
            yield block


def preserve_file(database: Database, vault: Vault, path: Path) -> int:
    with database.unit_of_work() as session:
        view = vault.preserve_stream(
            session,
            "video-1",
            file_chunks(path),
            {"uploader": "benign-test"},
            PreservationReason.REPORT,
            REPORTED,
        )
    return view.id


def test_a_multi_chunk_file_round_trips_through_the_vault_in_bounded_memory(
    database: Database, vault: Vault, tmp_path: Path
) -> None:
    size = 20 * MiB + 12345
    path = tmp_path / "large.bin"
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(21):
            block = secrets.token_bytes(min(MiB, size - out.tell()))
            digest.update(block)
            out.write(block)

    tracemalloc.start()
    try:
        record_id = preserve_file(database, vault, path)
        _, written_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        read = hashlib.sha256()
        stream = vault.open_stream(database, record_id, "test", "a test of the stream")
        length = 0
        for chunk in stream.chunks:
            read.update(chunk)
            length += len(chunk)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (length, read.hexdigest()) == (size, digest.hexdigest())
    assert stream.record.content_length == size and stream.metadata == {"uploader": "benign-test"}
    with database.reader() as session:
        count = len(
            session.scalars(select(VaultChunk.seq).where(VaultChunk.record_id == record_id)).all()
        )
    assert count == 21
    # Neither way holds the file (20 MiB): a few chunks of 1 MiB at most.
    assert written_peak < 8 * MiB, written_peak
    assert read_peak < 8 * MiB, read_peak


def small_record(
    database: Database, vault: Vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, bytes]:
    monkeypatch.setattr(vault_module, "STREAM_CHUNK_BYTES", 1000)
    data = secrets.token_bytes(3500)
    path = tmp_path / "small.bin"
    path.write_bytes(data)
    return preserve_file(database, vault, path), data


def read_record(database: Database, vault: Vault, record_id: int) -> bytes:
    stream = vault.open_stream(database, record_id, "test", "a test of the stream")
    return b"".join(stream.chunks)


def test_chunks_altered_reordered_or_removed_in_the_database_are_refused(
    database: Database, vault: Vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_id, data = small_record(database, vault, tmp_path, monkeypatch)
    assert read_record(database, vault, record_id) == data
    assert vault.open(database, record_id, "test", "whole").content == data

    def chunk(seq: int) -> bytes:
        with database.reader() as session:
            value = session.scalar(
                select(VaultChunk.data).where(
                    VaultChunk.record_id == record_id, VaultChunk.seq == seq
                )
            )
            assert value is not None
            return bytes(value)

    def put(seq: int, value: bytes) -> None:
        with database.unit_of_work() as session:
            session.execute(
                update(VaultChunk)
                .where(VaultChunk.record_id == record_id, VaultChunk.seq == seq)
                .values(data=value)
            )

    first, second = chunk(0), chunk(1)
    put(0, second)  # reordered
    put(1, first)
    with pytest.raises(TamperedData, match="chunk 0"):
        read_record(database, vault, record_id)
    put(0, first)
    put(1, second[:-1] + bytes([second[-1] ^ 1]))  # altered
    with pytest.raises(TamperedData, match="chunk 1"):
        read_record(database, vault, record_id)
    put(1, second)
    assert read_record(database, vault, record_id) == data
    last = chunk(3)
    with database.unit_of_work() as session:  # cut short: the final chunk removed
        session.execute(
            delete(VaultChunk).where(VaultChunk.record_id == record_id, VaultChunk.seq == 3)
        )
    with pytest.raises(TamperedData, match="cut short"):
        read_record(database, vault, record_id)
    with database.unit_of_work() as session:
        session.add(VaultChunk(record_id=record_id, seq=3, data=last))
    assert read_record(database, vault, record_id) == data


def test_a_streamed_record_is_crypto_shredded_with_its_chunks(
    database: Database, vault: Vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_id, _ = small_record(database, vault, tmp_path, monkeypatch)
    later = Vault(vault.master_key, clock=FixedClock(REPORTED + timedelta(days=366)))
    assert later.purge(database) == [record_id]
    with database.reader() as session:
        assert session.scalars(select(VaultChunk)).all() == []
    with pytest.raises(EvidenceExpired):
        later.open_stream(database, record_id, "test", "too late")


# -- a matched video upload: held, preserved, reported ------------------------------------------

Node = tuple[Database, Settings]


@pytest.fixture
def node(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Node]:
    """A node (SQLite, and PostgreSQL when given) with a vault key, a video bank holding the
    movie's vPDQ, reviewers, and reporting to a centre and to NCMEC; chunks of 16 KiB, so that
    a short test video is held and preserved in many."""
    passwords._dummy_hash.cache_clear()
    monkeypatch.setattr(passwords, "_hasher", lambda: CHEAP)
    monkeypatch.setattr(held_payloads, "STREAM_CHUNK_BYTES", 16 * 1024)
    monkeypatch.setattr(vault_module, "STREAM_CHUNK_BYTES", 16 * 1024)
    keyed = dataclasses.replace(
        with_vault(settings),
        job_lease_s=2.0,
        centre_url="http://centre.invalid",
        report_ncmec=True,
        secrets_key=ncmec_tests.SECRETS_KEY,
        provider_name="Example Hosting BV",
        provider_legal_representative="Example Legal Rep GmbH",
        provider_contact="trust@example.org",
        provider_country="NL",
    )
    generate_key_file(default_key_file(keyed))
    database = open_database(keyed)
    banks.create_bank(database, "videos")
    add_video_indicator(
        database, "videos", vpdq_of_file(video(tmp_path / "banked.mp4", MOVIE)).frames
    )
    add_people(database)
    try:
        yield database, keyed
    finally:
        database.close()
        passwords._dummy_hash.cache_clear()


def upload(database: Database, settings: Settings, path: Path) -> int:
    async def run() -> Any:
        async with in_process_client(settings, database) as client:
            return await client.post(
                "/v1/items",
                files={"file": (path.name, path.read_bytes())},
                data={"metadata": json.dumps({"item_id": "clip", **METADATA})},
            )

    answer = asyncio.run(run())
    assert answer.status_code == 202, answer.text
    return int(answer.json()["id"])


def spooled(settings: Settings) -> list[Path]:
    return sorted((settings.data_dir / QUEUE_DIRECTORY).glob("*.video"))


def held(database: Database, settings: Settings, item_id: int) -> bytes | None:
    with database.reader() as session:
        stream = held_stream(session, item_id, load_master_key(settings))
        return None if stream is None else b"".join(stream)


def test_a_matched_video_is_held_sealed_preserved_and_reported_with_its_file(
    node: Node, tmp_path: Path, cybertipline: FakeCyberTipline
) -> None:
    database, settings = node
    path = video(tmp_path / "copy.mp4", MOVIE)
    data = path.read_bytes()
    item_id = upload(database, settings, path)
    assert decide_one_video(settings, database)

    item = get_item(database, item_id)
    assert item.verdict == "review" and item.case_id is not None
    assert spooled(settings) == []  # the spool is empty, the video held:
    assert held(database, settings, item_id) == data
    with database.reader() as session:
        assert (row_chunks(session, item_id) or 0) > 2
    middle = data[len(data) // 2 : len(data) // 2 + 32]
    assert not any(middle in cell for cell in every_cell(database))  # sealed, nowhere in clear

    with database.unit_of_work() as session:
        store_credentials(
            session,
            ncmec_tests.SECRETS_KEY,
            ncmec_tests.USER,
            vars(ncmec_tests)["PASSWORD"],  # the fake CyberTipline's
            cybertipline.url,
        )
    view = decide(database, item.case_id, "rita", Decision.CONFIRM_KNOWN, settings=settings)
    assert view.effects["vault"]["streamed"] is True
    assert view.effects["report"]["destinations"] == ["centre", "ncmec"]
    with database.reader() as session:
        assert session.get(ItemPayload, item_id) is None
        assert session.scalars(select(ItemPayloadChunk)).all() == []
        assert len(session.scalars(select(VaultChunk)).all()) > 2
    assert not any(middle in cell for cell in every_cell(database))

    # The report to the centre carries the file (as an image's) and the video's vPDQ.
    with database.reader() as session:
        (row,) = session.scalars(
            select(OutboxMessage).where(OutboxMessage.destination == "centre")
        ).all()
    report = json.loads(row.payload["body"])
    (attached,) = report["content"]["files"]
    assert attached["media_type"] == "video/mp4"
    assert base64.b64decode(attached["data"]) == data
    assert attached["sha256"] == hashlib.sha256(data).hexdigest()
    kinds = {entry["signal_type"] for entry in report["content"]["hashes"]}
    assert {"vpdq", "sha256"} <= kinds, kinds

    # NCMEC gets the file uploaded from the vault, streamed.
    cybertipline.expected_upload = None
    deliver_due(
        database,
        {"ncmec": provider_transports(settings, database)["ncmec"]},
        utc_now(),
    )
    assert cybertipline.uploads == [data]
    assert cybertipline.reports == {"1001": {"finished": True}}


# -- a worker killed between the steps ----------------------------------------------------------


def run_killed(settings: Settings, when: str) -> None:
    process = mp.get_context("spawn").Process(target=killed_while_deciding, args=(settings, when))
    process.start()
    process.join(120)
    assert process.exitcode == -signal.SIGKILL


@pytest.mark.slow  # two spawned workers: about 20 s, more under load
def test_a_worker_killed_between_the_steps_loses_nothing(node: Node, tmp_path: Path) -> None:
    database, settings = node
    path = video(tmp_path / "copy.mp4", MOVIE)
    data = path.read_bytes()
    item_id = upload(database, settings, path)

    run_killed(settings, "holding")  # killed while the file was going into the database
    assert get_item(database, item_id).status != "done"
    assert held(database, settings, item_id) is None
    assert len(spooled(settings)) == 1  # still in the spool, its job waiting

    with database.unit_of_work() as session:  # its lease runs out
        session.execute(update(Job).values(leased_until=utc_now() - timedelta(seconds=1)))
    run_killed(settings, "committed")  # killed after the commit, before the file's removal
    item = get_item(database, item_id)
    assert item.status == "done" and item.case_id is not None
    assert held(database, settings, item_id) == data  # held, and still in the spool
    assert len(spooled(settings)) == 1

    assert sweep_orphans(database, settings.data_dir, older_than_s=0) == 1
    assert spooled(settings) == [] and held(database, settings, item_id) == data

    # Deleted as a dismissal deletes held content (Art 22(1)): its chunks go with it.
    with database.unit_of_work() as session:
        session.execute(delete(ItemPayload).where(ItemPayload.item_id == item_id))
    assert held(database, settings, item_id) is None
    with database.reader() as session:
        assert session.scalars(select(ItemPayloadChunk)).all() == []


def test_a_video_too_large_to_attach_is_named_as_left_out_in_the_report_and_at_the_centre(
    node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database, settings = node
    settings = dataclasses.replace(settings, report_ncmec=False)
    limit = 64 * 1024  # stands in for the 40 MiB: the test video is some hundred KiB
    monkeypatch.setattr(confirmation, "INLINE_VIDEO_MAX_BYTES", limit)
    path = video(tmp_path / "copy.mp4", MOVIE)
    data = path.read_bytes()
    assert len(data) > limit + 16 * 1024
    item_id = upload(database, settings, path)
    assert decide_one_video(settings, database)
    case_id = get_item(database, item_id).case_id
    assert case_id is not None
    view = decide(database, case_id, "rita", Decision.CONFIRM_KNOWN, settings=settings)
    assert view.effects["vault"]["not_attached"] == f"larger than {limit} bytes"

    with database.reader() as session:
        (row,) = session.scalars(
            select(OutboxMessage).where(OutboxMessage.destination == "centre")
        ).all()
    report = json.loads(row.payload["body"])
    assert report["content"]["files"] == []
    assert report["content"]["omitted"] == [
        {
            "media_type": "video/mp4",
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "reason": "too_large",
            "limit": limit,
        }
    ]

    # The centre takes the report as signed and its report page says what was left out, and why.
    now = utc_now()
    with database.unit_of_work() as session:
        pem = load_key_file(default_key_file(settings)).public_key_pem()
        register_provider(session, settings.provider_name, pem, now, "NL")
    accepted = receive_report(
        database,
        row.payload["key_id"],
        row.payload["body"].encode(),
        row.payload["signature"],
        "k-1",
        now,
    )
    create_user(database, "ana", PASSWORD, ["analyst"], actor="test")
    token = log_in(database, "ana", PASSWORD, None).token

    async def page() -> httpx.Response:
        app = create_centre_app(settings, database)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="https://centre.test",
                cookies={SESSION_COOKIE: token},
            ) as client,
        ):
            return await client.get(f"/ui/triage/reports/{accepted.id}")

    answer = asyncio.run(page())
    assert answer.status_code == 200, answer.text
    (left_out,) = re.findall(r'<ul id="omitted-files"><li>(.*?)</li>', answer.text)
    assert left_out.startswith("video/mp4, 0.") and "MiB" in left_out
    assert hashlib.sha256(data).hexdigest() in left_out
    assert "too large to attach to the report (over 0.1 MiB)" in left_out


@pytest.mark.parametrize(
    "omitted",
    [
        "a file",
        [{"media_type": "video/mp4", "reason": "Too Large!"}],
        [{"media_type": "", "reason": "too_large"}],
        [{"media_type": "video/mp4", "reason": "too_large", "size": -1}],
        [{"media_type": "video/mp4", "reason": "too_large", "size": True}],
        [{"media_type": "video/mp4", "reason": "too_large", "sha256": "abc"}],
        [{"media_type": "video/mp4", "reason": "too_large"}] * 17,
    ],
)
def test_a_malformed_omitted_entry_is_refused_at_the_centre(omitted: object) -> None:
    report = {"content": {"omitted": omitted}}
    with pytest.raises(MalformedReport):
        report_shape.omitted_files(report)


def test_a_well_formed_omitted_entry_passes_the_centre_checks() -> None:
    entry = {
        "media_type": "video/mp4",
        "size": 50 * MiB,
        "sha256": "0" * 64,
        "reason": "too_large",
        "limit": 40 * MiB,
    }
    assert report_shape.omitted_files({"content": {"omitted": [entry]}}) == [entry]
    assert report_shape.omitted_files({"content": {}}) == []


def test_a_videos_vpdq_is_accepted_by_the_centre_but_not_indexed_as_a_hash() -> None:
    vpdq = "\n".join(f"{n},{'0' * 64},100,{n:.3f}" for n in range(200))  # 200 frames
    report = {"content": {"hashes": [{"signal_type": "vpdq", "value": vpdq}]}}
    assert len(vpdq) > report_shape.MAX_HASH_VALUE
    assert report_shape.hash_entries(report) == []
    too_long = {"content": {"hashes": [{"signal_type": "vpdq", "value": "x" * (9 * MiB)}]}}
    with pytest.raises(MalformedReport):
        report_shape.hash_entries(too_long)
