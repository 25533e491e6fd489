"""The review console on a video case: the matched frames as a strip of blurred greyscale stills
beside the banked frames' times and distances, made from the video only while the node holds
it; "stills not stored" (times and distances still listed) when it does not; the video is never
played, and a reveal (audited) gives the stills in colour. A held video of any size streams into
the strip and the reveal, chunk by chunk, never whole in memory."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import re
import secrets
import struct
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import delete, select

from password_hashing import cheap_argon2  # noqa: F401  (fixture)
from provider_fixtures import in_process_client, make_key
from tutela.audit.log import list_entries
from tutela.auth.csrf import issue_csrf_token
from tutela.auth.sessions import log_in
from tutela.auth.users import create_user
from tutela.db.database import Database
from tutela.detection.bases import DetectionGate
from tutela.detection.held_payloads import hold_video, row_chunks
from tutela.detection.items import accept_local, get_item
from tutela.detection.models import ItemPayload
from tutela.detection.verdicts import gated, record_outcome
from tutela.detection.video_items import video_outcome
from tutela.indicators import banks
from tutela.indicators.ledger import add_indicator
from tutela.indicators.matcher import Matcher
from tutela.indicators.video_banks import add_video_indicator
from tutela.master_key import generate_master_key, load_master_key
from tutela.review.decisions import Decision, decide
from tutela.settings import Settings
from tutela.signals.hashing import hash_video_file
from tutela.signals.pdq import pdq_of_pixels
from tutela.signals.vpdq import vpdq_of_file
from tutela.ui.access import SESSION_COOKIE
from tutela.ui.video_strip import EMPTY_GREY, STILL_HEIGHT, STILL_WIDTH
from video_scenes import pan, photo, shot, slideshow_frames, video, zoom

PASSWORD = "a long enough password 1"
MiB = 1024 * 1024
pytestmark = pytest.mark.usefixtures("cheap_argon2")


@pytest.fixture
def video_case(settings: Settings, database: Database, tmp_path: Path) -> tuple[int, int, Path]:
    """A case opened by a video showing a banked still for 2 s: (case id, item id, the file)."""
    banks.create_bank(database, "images")
    add_indicator(database, "images", "pdq", pdq_of_pixels(photo("chelsea")).hash)
    banks.create_bank(database, "videos")
    movie = slideshow_frames(["astronaut", "coffee"]) + zoom("rocket", 2)
    add_video_indicator(database, "videos", vpdq_of_file(video(tmp_path / "m.mp4", movie)).frames)
    path = video(
        tmp_path / "inserted.mp4",
        pan("immunohistochemistry", 2) + shot("chelsea", 2) + zoom("hubble_deep_field", 2),
    )

    # Decided as a scan decides a video file (the upload path is tested in test_video_items).
    accepted = accept_local(database, "clip", {"item_id": "clip"})
    matcher = Matcher(database)
    matcher.load()
    hashed = hash_video_file(str(path), limits=settings.media)
    decision = DetectionGate(database).decide(None)
    record_outcome(database, accepted.id, gated(video_outcome(matcher, hashed), decision))
    item = get_item(database, accepted.id)
    assert item.case_id is not None
    create_user(database, "rita", PASSWORD, ["reviewer"], actor="test")
    return item.case_id, item.id, path


def held(database: Database, item_id: int, data: bytes | None) -> None:
    """Make the node hold the video for review (as a plain payload), or hold nothing."""
    with database.unit_of_work() as session:
        present = session.scalar(select(ItemPayload.item_id).where(ItemPayload.item_id == item_id))
        if data is None:
            session.execute(delete(ItemPayload).where(ItemPayload.item_id == item_id))
        elif present is None:
            session.add(ItemPayload(item_id=item_id, data=data))


def console(
    settings: Settings,
    database: Database,
    *requests: tuple[str, str],
    user: str = "rita",
    started: Callable[[], None] = lambda: None,
) -> list[httpx.Response]:
    """The console's answers to `requests`, in order, as `user`; `started` is called once the
    node is up, before the first request."""
    key = make_key(database, f"console-{secrets.token_hex(4)}")
    token = log_in(database, user, PASSWORD, None).token
    headers = {"Cookie": f"{SESSION_COOKIE}={token}", "X-CSRF-Token": issue_csrf_token(token)}

    async def run() -> list[httpx.Response]:
        async with in_process_client(settings, database, key) as client:
            started()
            return [
                await client.request(method, path, headers=headers) for method, path in requests
            ]

    return asyncio.run(run())


def padded(path: Path, target: Path, pad_bytes: int) -> Path:
    """`path` (an MP4 whose index comes last) with a top-level `free` box of `pad_bytes` zero
    bytes appended: still a valid MP4 that decodes to the same frames, as large as wanted."""
    with path.open("rb") as source, target.open("wb") as out:
        out.write(source.read())
        out.write(struct.pack(">I4s", pad_bytes + 8, b"free"))
        block = bytes(MiB)
        for _ in range(pad_bytes // MiB):
            out.write(block)
        out.write(bytes(pad_bytes % MiB))
    return target


def traced_peak(run: Callable[[Callable[[], None]], None]) -> int:
    """The peak of Python memory traced while `run` runs, from the moment it calls its
    argument (its set-up left out)."""
    tracemalloc.start()
    try:
        run(tracemalloc.reset_peak)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_video_case_not_held_lists_its_frames_and_says_stills_not_stored(
    settings: Settings, database: Database, video_case: tuple[int, int, Path]
) -> None:
    case_id, item_id, _ = video_case
    held(database, item_id, None)
    page, strip = console(
        settings,
        database,
        ("GET", f"/ui/cases/{case_id}"),
        ("GET", f"/ui/cases/{case_id}/frames.png"),
    )
    assert page.status_code == 200
    assert "stills not stored" in page.text
    assert "frames.png" not in page.text and "<video" not in page.text
    captions = re.findall(r"<strong>([\d.]+) s</strong> · distance (\d+)", page.text)
    assert [time for time, _ in captions] == ["2.0", "3.0"]
    assert "images, a banked image" in page.text
    assert strip.status_code == 204


def test_a_held_video_case_shows_blurred_greyscale_stills_and_reveals_them_in_colour(
    settings: Settings, database: Database, video_case: tuple[int, int, Path]
) -> None:
    case_id, item_id, path = video_case
    held(database, item_id, path.read_bytes())
    page, strip, revealed, picture = console(
        settings,
        database,
        ("GET", f"/ui/cases/{case_id}"),
        ("GET", f"/ui/cases/{case_id}/frames.png"),
        ("POST", f"/ui/cases/{case_id}/reveal"),
        ("GET", f"/ui/cases/{case_id}/preview.png"),
    )
    assert picture.status_code == 204  # a video has no one-picture preview: its strip instead
    assert page.status_code == 200
    assert f'src="/ui/cases/{case_id}/frames.png"' in page.text
    assert "stills not stored" not in page.text and "<video" not in page.text
    assert strip.status_code == 200 and strip.headers["content-type"] == "image/png"
    stills = Image.open(io.BytesIO(strip.content))
    assert stills.mode == "L" and stills.size == (2 * STILL_WIDTH, STILL_HEIGHT)
    pixels = np.asarray(stills, dtype=np.int16)
    for tile in (pixels[:, :STILL_WIDTH], pixels[:, STILL_WIDTH:]):
        assert (tile != EMPTY_GREY).mean() > 0.5  # a still, not an empty tile
    # Blurred: neighbouring pixels differ far less than in the sharp still.
    assert revealed.status_code == 200
    sharp = Image.open(io.BytesIO(revealed.content))
    assert sharp.mode == "RGB" and sharp.size == stills.size
    grey = np.asarray(sharp.convert("L"), dtype=np.int16)
    assert np.abs(np.diff(pixels, axis=1)).mean() < np.abs(np.diff(grey, axis=1)).mean() / 2
    with database.reader() as session:
        reveals = list_entries(session, action="reveal")
    assert [e.subject.id for e in reveals if e.subject] == [str(case_id)]


def strip_tiles_are_stills(png: bytes, mode: str) -> None:
    stills = Image.open(io.BytesIO(png))
    assert stills.mode == mode and stills.size == (2 * STILL_WIDTH, STILL_HEIGHT)
    pixels = np.asarray(stills.convert("L"), dtype=np.int16)
    for tile in (pixels[:, :STILL_WIDTH], pixels[:, STILL_WIDTH:]):
        assert (tile != EMPTY_GREY).mean() > 0.5


@pytest.mark.slow  # 101 MiB sealed, held, copied three times and preserved: ~20 s, more loaded
def test_a_held_video_over_100_mib_streams_into_its_strip_and_reveals_in_bounded_memory(
    settings: Settings, database: Database, video_case: tuple[int, int, Path], tmp_path: Path
) -> None:
    case_id, item_id, path = video_case
    big = padded(path, tmp_path / "big.mp4", 101 * MiB)
    assert big.stat().st_size > 100 * MiB
    keyed = dataclasses.replace(settings, vault_key=generate_master_key().encode())
    with database.unit_of_work() as session:
        hold_video(session, item_id, big, load_master_key(keyed))
    with database.reader() as session:
        assert (row_chunks(session, item_id) or 0) > 100  # sealed in chunks of 1 MiB
    answers: list[httpx.Response] = []

    def held_requests(started: Callable[[], None]) -> None:
        answers.extend(
            console(
                keyed,
                database,
                ("GET", f"/ui/cases/{case_id}/frames.png"),
                ("POST", f"/ui/cases/{case_id}/reveal"),
                started=started,
            )
        )

    held_peak = traced_peak(held_requests)
    strip, revealed = answers
    assert strip.status_code == 200, strip.text
    strip_tiles_are_stills(strip.content, "L")
    assert revealed.status_code == 200, revealed.text
    strip_tiles_are_stills(revealed.content, "RGB")

    # Confirmed: the video moves into the vault, streamed, and a reveal reads it from there.
    create_user(database, "sam", PASSWORD, ["reviewer"], actor="test")
    decided = decide(database, case_id, "sam", Decision.CONFIRM_KNOWN, settings=keyed)
    assert decided.effects["vault"]["streamed"] is True
    answers.clear()

    def vault_requests(started: Callable[[], None]) -> None:
        answers.extend(
            console(
                keyed,
                database,
                ("GET", f"/ui/cases/{case_id}/frames.png"),
                ("POST", f"/ui/cases/{case_id}/reveal"),
                started=started,
            )
        )

    vault_peak = traced_peak(vault_requests)
    strip, revealed = answers
    assert strip.status_code == 204  # the blurred strip never opens the vault
    assert revealed.status_code == 200, revealed.text
    strip_tiles_are_stills(revealed.content, "RGB")
    with database.reader() as session:
        reveals = list_entries(session, action="reveal")
        opened = list_entries(session, action="vault_open")
    assert [e.subject.id for e in reveals if e.subject] == [str(case_id)] * 2
    assert len(opened) == 1
    # Neither way holds the file (101 MiB) in memory: a few chunks of 1 MiB at most.
    print(f"traced peaks: held {held_peak / MiB:.1f} MiB, vault {vault_peak / MiB:.1f} MiB")
    assert held_peak < 16 * MiB, held_peak
    assert vault_peak < 16 * MiB, vault_peak
