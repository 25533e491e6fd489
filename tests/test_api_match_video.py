"""`POST /v1/match` with a video: streamed to disk within TUTELA_MAX_VIDEO_BYTES, hashed in a
video process within the video limits, matched as video uploads are (vPDQ against video banks,
each frame against image banks, with the frames' times); a vPDQ hash as the signal `vpdq`; typed
errors for hostile videos."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from provider_fixtures import in_process_client, make_key
from tutela.db.database import Database
from tutela.indicators import banks
from tutela.indicators.ledger import add_indicator
from tutela.indicators.video_banks import add_video_indicator
from tutela.settings import Settings
from tutela.signals.pdq import pdq_of_pixels
from tutela.signals.vpdq import to_threatexchange, vpdq_of_file
from video_files import write_video
from video_scenes import FPS, pan, photo, shot, slideshow_frames, video, zoom

LONG = slideshow_frames(["astronaut", "coffee", "rocket"], 3) + zoom("hubble_deep_field", 3)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("match-videos")
    made = {
        "long": video(root / "long.mp4", LONG),
        "clip": video(root / "clip.mp4", LONG[10:40]),
        "inserted": video(
            root / "inserted.mp4",
            pan("immunohistochemistry", 2) + shot("chelsea", 2) + zoom("hubble_deep_field", 2),
        ),
        "unrelated": video(root / "unrelated.mp4", pan("immunohistochemistry", 4)),
    }
    cut = root / "cut.mp4"
    cut.write_bytes(made["clip"].read_bytes()[:3000])
    made["cut"] = cut
    return made


@pytest.fixture
def banked(database: Database, files: dict[str, Path]) -> int:
    banks.create_bank(database, "videos")
    banks.create_bank(database, "images")
    add_indicator(database, "images", "pdq", pdq_of_pixels(photo("chelsea")).hash)
    return add_video_indicator(database, "videos", vpdq_of_file(files["long"]).frames)


def ask(
    settings: Settings, database: Database, *requests: dict[str, Any], key: str = ""
) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        async with in_process_client(settings, database, key) as client:
            return [await client.post("/v1/match", **request) for request in requests]

    return asyncio.run(run())


def upload(path: Path) -> dict[str, Any]:
    return {"files": {"file": (path.name, path.read_bytes())}}


def test_videos_match_as_uploads_do_with_their_frames_times(
    settings: Settings, database: Database, banked: int, files: dict[str, Path]
) -> None:
    clip, inserted, unrelated = ask(
        settings,
        database,
        upload(files["clip"]),
        upload(files["inserted"]),
        upload(files["unrelated"]),
    )
    assert clip.status_code == 200, clip.text
    assert clip.json()["query"] == "clip.mp4"
    [match] = clip.json()["matches"]
    assert (match["bank"], match["signal_type"], match["indicator_id"]) == (
        "videos",
        "vpdq",
        banked,
    )
    assert match["video"]["query_match_percent"] >= 80
    assert match["video"]["compared_match_percent"] < 80
    [still] = inserted.json()["matches"]
    assert (still["bank"], still["signal_type"]) == ("images", "pdq")
    assert [frame["time"] for frame in still["video"]["frames"]] == [2.0, 3.0]
    assert unrelated.status_code == 200 and unrelated.json()["matches"] == []
    # Nothing of them is left on the node's disk.
    assert not [p for p in settings.spool_dir.rglob("*") if p.is_file()]


def test_a_vpdq_hash_matches_as_its_video_and_a_malformed_one_is_refused(
    settings: Settings, database: Database, banked: int, files: dict[str, Path]
) -> None:
    frames = vpdq_of_file(files["clip"]).frames
    value = to_threatexchange(frames)
    one, batch, bad = ask(
        settings,
        database,
        {"json": {"signal_type": "vpdq", "value": value}},
        {"json": {"signal_type": "vpdq", "values": [value, to_threatexchange(frames[:1])]}},
        {"json": {"signal_type": "vpdq", "values": [value, json.dumps(["zz,100,0.000"])]}},
    )
    assert one.status_code == 200, one.text
    [match] = one.json()["matches"]
    assert match["indicator_id"] == banked and match["video"]["query_match_percent"] >= 80
    first, second = batch.json()["results"]
    assert first["matches"][0]["indicator_id"] == banked
    assert second["query"] == to_threatexchange(frames[:1])
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_hash" and "values[1]" in bad.json()["detail"]


def test_hostile_videos_get_typed_errors_and_the_node_goes_on(
    settings: Settings, database: Database, banked: int, files: dict[str, Path]
) -> None:
    small = dataclasses.replace(
        settings,
        media=dataclasses.replace(settings.media, max_video_bytes=files["clip"].stat().st_size - 1),
    )
    key = make_key(database)
    [too_large] = ask(small, database, upload(files["clip"]), key=key)
    assert too_large.status_code == 413 and too_large.json()["code"] == "too_large"
    cut, clip = ask(settings, database, upload(files["cut"]), upload(files["clip"]), key=key)
    assert cut.status_code in (415, 422)
    assert cut.headers["content-type"].startswith("application/problem+json")
    assert cut.json()["code"] in {"corrupt", "unsupported_format"}
    assert clip.status_code == 200 and clip.json()["matches"][0]["indicator_id"] == banked


def hash_upload(
    settings: Settings, database: Database, *paths: Path, key: str = ""
) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        async with in_process_client(settings, database, key) as client:
            return [await client.post("/v1/hash", **upload(path)) for path in paths]

    return asyncio.run(run())


def test_hash_of_a_video_streams_it_to_disk_and_answers_its_vpdq(
    settings: Settings, database: Database, files: dict[str, Path]
) -> None:
    [answer] = hash_upload(settings, database, files["clip"])
    assert answer.status_code == 200, answer.text
    line = answer.json()
    assert (line["path"], line["content_type"]) == ("clip.mp4", "video")
    assert "error" not in line
    frames = vpdq_of_file(files["clip"]).frames
    vpdq = line["signals"]["vpdq"]
    assert (vpdq["frames"], vpdq["hash"], vpdq["truncated"]) == (
        len(frames),
        to_threatexchange(frames),
        False,
    )
    assert line["signals"]["sha256"] == hashlib.sha256(files["clip"].read_bytes()).hexdigest()
    assert not [p for p in (settings.data_dir / "spool").rglob("*") if p.is_file()]


def test_hash_refuses_a_video_over_the_video_byte_limit_and_keeps_nothing(
    settings: Settings, database: Database, files: dict[str, Path]
) -> None:
    small = dataclasses.replace(
        settings,
        media=dataclasses.replace(settings.media, max_video_bytes=files["clip"].stat().st_size - 1),
    )
    [answer] = hash_upload(small, database, files["clip"])
    assert answer.status_code == 413 and answer.json()["code"] == "too_large"
    assert not [p for p in (settings.data_dir / "spool").rglob("*") if p.is_file()]


def test_hash_of_a_video_cut_short_answers_the_frames_it_holds_and_says_it_is_cut(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    whole = write_video(tmp_path / "whole.mp4", LONG, fps=FPS, faststart=True).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) // 2])
    [answer] = hash_upload(settings, database, cut)
    assert answer.status_code == 200, answer.text
    line = answer.json()
    assert line["error"]["code"] == "truncated"
    assert line["signals"]["vpdq"]["truncated"] is True
    assert 0 < line["signals"]["vpdq"]["frames"] < len(LONG) // FPS
