"""Video uploads through `POST /v1/items`: streamed to disk within TUTELA_MAX_VIDEO_BYTES, queued,
hashed by the detection workers in a process of their own, matched with vPDQ (and frame by frame
against image banks), and decided with the matched frames' times in the verdict."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from provider_fixtures import in_process_client, make_key
from tutela.auth.users import create_user, get_user
from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.detection.items import get_item
from tutela.detection.models import Case
from tutela.indicators import banks
from tutela.indicators.ledger import add_indicator
from tutela.indicators.video_banks import add_video_indicator
from tutela.review.case_views import case_view
from tutela.settings import Settings
from tutela.signals.pdq import pdq_of_pixels
from tutela.signals.vpdq import vpdq_of_file
from video_files import write_video
from video_scenes import FPS, pan, photo, resized, shot, slideshow_frames, video, zoom
from video_workers import decide_videos

MOVIE = slideshow_frames(["astronaut", "coffee", "chelsea"]) + zoom("rocket", 2)


def upload(item_id: str, path: Path) -> dict[str, Any]:
    return {
        "files": {"file": (path.name, path.read_bytes())},
        "data": {"metadata": json.dumps({"item_id": item_id})},
    }


def post_all(
    settings: Settings, database: Database, *requests: dict[str, Any], key: str = ""
) -> list[Any]:
    """POST each upload in turn, let the workers decide the queued videos; answer each one's
    (status, answer, item as GET shows it then)."""

    async def run() -> list[Any]:
        async with in_process_client(settings, database, key) as client:
            return [
                (a.status_code, a) for a in [await client.post("/v1/items", **r) for r in requests]
            ]

    answers = asyncio.run(run())
    decide_videos(settings, database)
    out = []
    for status, answer in answers:
        item = None
        if status in (200, 202):
            item = get_item(database, answer.json()["id"]).as_dict()
        out.append((status, answer, item))
    return out


@pytest.fixture
def banked(database: Database, tmp_path: Path) -> int:
    banks.create_bank(database, "videos")
    frames = vpdq_of_file(video(tmp_path / "banked.mp4", MOVIE)).frames
    return add_video_indicator(database, "videos", frames)


def test_a_copy_of_a_banked_video_goes_to_review_with_its_frames_and_others_do_not(
    settings: Settings, database: Database, banked: int, tmp_path: Path
) -> None:
    banks.create_bank(database, "images")
    add_indicator(database, "images", "pdq", pdq_of_pixels(photo("chelsea")).hash)
    copy = video(tmp_path / "copy.mp4", resized(MOVIE, 240, 180))
    other = video(tmp_path / "other.mp4", pan("immunohistochemistry", 4))
    inserted = video(
        tmp_path / "inserted.mp4",
        pan("immunohistochemistry", 2) + shot("chelsea", 2) + zoom("hubble_deep_field", 2),
    )
    answers = post_all(
        settings,
        database,
        upload("copy", copy),
        upload("other", other),
        upload("inserted", inserted),
    )
    assert [status for status, _, _ in answers] == [202, 202, 202]
    assert {answer.json()["status"] for _, answer, _ in answers} == {"queued"}
    # Each file was removed once its verdict was committed.
    assert not list(settings.spool_dir.rglob("*.video"))
    (_, _, copy_item), (_, _, other_item), (_, _, inserted_item) = answers
    assert copy_item["verdict"] == "review"
    [match] = [m for m in copy_item["matches"] if m["signal_type"] == "vpdq"]
    assert match["indicator_id"] == banked and match["outcome"] == "review"
    assert match["video"]["query_match_percent"] >= 80
    assert match["video"]["frames"][0]["time"] == 0.0
    assert other_item["verdict"] == "no_match" and other_item["matches"] == []
    assert inserted_item["verdict"] == "review"
    [still] = inserted_item["matches"]
    assert still["bank"] == "images" and still["signal_type"] == "pdq"
    assert [f["time"] for f in still["video"]["frames"]] == [2.0, 3.0]
    # The reviewer's page lists the matched frames' times beside the banked video's.
    create_user(database, "rita", "a long enough password 1", ["reviewer"], actor="test")
    with database.reader() as session:
        case_id = session.scalar(select(Case.id).where(Case.item_id == copy_item["id"]))
    assert case_id is not None
    view = case_view(database, case_id, get_user(database, "rita"), "rita", settings, utc_now())
    [evidence] = [e for e in view.evidence if e.signal_type == "vpdq"]
    assert evidence.video_summary.startswith("matched 100 % of the upload's frames")
    assert evidence.frame_times[0].startswith("0.0 s (banked ")


def test_a_video_over_the_limit_is_refused_while_it_streams(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    path = video(tmp_path / "long.mp4", MOVIE)
    limited = dataclasses.replace(
        settings, media=dataclasses.replace(settings.media, max_video_bytes=path.stat().st_size - 1)
    )
    [(status, answer, _)] = post_all(limited, database, upload("long", path))
    assert status == 413
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "too_large"
    # Nothing of it left on disk (the slots' lock files hold no content).
    spool = settings.spool_dir
    assert not [p for p in spool.rglob("*") if p.is_file() and p.parent.name != "slots"]


def test_a_broken_video_gets_its_typed_error_and_the_node_goes_on(
    settings: Settings, database: Database, banked: int, tmp_path: Path
) -> None:
    good = video(tmp_path / "good.mp4", MOVIE)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(good.read_bytes()[:2000])
    (_, _, broken_item), (_, _, good_item) = post_all(
        settings, database, upload("broken", broken), upload("good", good)
    )
    assert broken_item["verdict"] == "error"
    assert broken_item["error"]["code"] in {"corrupt", "unsupported_format"}
    assert good_item["verdict"] == "review"


def test_a_video_cut_short_is_decided_on_the_frames_it_holds_and_says_it_was_cut(
    settings: Settings, database: Database, banked: int, tmp_path: Path
) -> None:
    # Index at the front: the cut keeps it and loses the media data after the first seconds.
    whole = write_video(tmp_path / "whole.mp4", MOVIE, fps=FPS, faststart=True).read_bytes()
    other = write_video(tmp_path / "o.mp4", pan("immunohistochemistry", 8), fps=FPS, faststart=True)
    cut_copy, cut_other = tmp_path / "cut-copy.mp4", tmp_path / "cut-other.mp4"
    cut_copy.write_bytes(whole[: len(whole) // 2])
    cut_other.write_bytes(other.read_bytes()[: other.stat().st_size // 2])
    (_, _, copy_item), (_, _, other_item) = post_all(
        settings, database, upload("cut-copy", cut_copy), upload("cut-other", cut_other)
    )
    # The known frames before the cut are found; the item still says the rest was never seen.
    assert copy_item["verdict"] == "review"
    assert copy_item["error"]["code"] == "truncated"
    assert "cut short" in copy_item["error"]["message"]
    # Nothing found in the part that is there is no "no_match": the item is in error.
    assert other_item["verdict"] == "error"
    assert other_item["error"]["code"] == "truncated"


def test_an_image_upload_still_streams_within_the_image_limit(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    image = tmp_path / "photo.png"
    Image.fromarray(photo("coffee")).save(image)
    limited = dataclasses.replace(
        settings, media=dataclasses.replace(settings.media, max_bytes=image.stat().st_size - 1)
    )
    key = make_key(database)
    [(status, answer, _)] = post_all(limited, database, upload("photo", image), key=key)
    assert status == 413 and answer.json()["code"] == "too_large"
    [(status, _, item)] = post_all(settings, database, upload("photo", image), key=key)
    assert status == 202 and item["verdict"] == "no_match"


def test_a_large_json_body_is_not_read_past_its_limit(
    settings: Settings, database: Database
) -> None:
    async def run() -> httpx.Response:
        async with in_process_client(settings, database) as client:
            return await client.post(
                "/v1/items",
                content=b"{" + b" " * 300_000 + b"}",
                headers={"content-type": "application/json"},
            )

    answer = asyncio.run(run())
    assert answer.status_code == 422
