"""`tutela match` and `tutela scan` on a directory of videos and images: a clip cut from a
longer banked video matches it by vPDQ, a banked still shown for 2 s inside a video is found
with its times, an unrelated video matches nothing; the same answers as video uploads get, for
files in a directory and for files fetched from URLs and S3-compatible storage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from file_servers import ACCESS_KEY, REGION, SECRET_KEY, s3_store, serving, web_files
from tutela.cli import main
from tutela.db.database import open_database
from tutela.detection.remote_scan import SCAN_SPOOL
from tutela.indicators import banks
from tutela.indicators.ledger import add_indicator
from tutela.indicators.video_banks import add_video_indicator
from tutela.settings import Settings
from tutela.signals.pdq import pdq_of_pixels
from tutela.signals.vpdq import vpdq_of_file
from video_scenes import pan, photo, shot, slideshow_frames, video, zoom

# A longer benign video (banked), and the still (banked as an image) that one query shows.
LONG = slideshow_frames(["astronaut", "coffee", "rocket"], 3) + zoom("hubble_deep_field", 3)
STILL = "chelsea"


@pytest.fixture(scope="module")
def backlog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The long video, and a directory of queries: a clip of it, a video with the banked still
    inserted for 2 s, an unrelated video, and the still itself as a PNG."""
    root = tmp_path_factory.mktemp("videos")
    video(root / "long.mp4", LONG)
    queries = root / "queries"
    queries.mkdir()
    video(queries / "clip.mp4", LONG[10:40])  # 2 s to 8 s of the long one
    video(
        queries / "inserted.mp4",
        pan("immunohistochemistry", 2) + shot(STILL, 2) + zoom("hubble_deep_field", 2),
    )
    video(queries / "unrelated.mp4", pan("immunohistochemistry", 4) + zoom("coffee", 2, factor=2))
    Image.fromarray(photo(STILL)).save(queries / "still.png")
    return root


@pytest.fixture
def banked(cli_env: Settings, backlog: Path) -> int:
    """A video bank holding the long video, an image bank the still; the long video's id."""
    database = open_database(cli_env)
    try:
        banks.create_bank(database, "videos")
        banks.create_bank(database, "images")
        add_indicator(database, "images", "pdq", pdq_of_pixels(photo(STILL)).hash)
        return add_video_indicator(database, "videos", vpdq_of_file(backlog / "long.mp4").frames)
    finally:
        database.close()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]]]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, _ = capsys.readouterr()
    return int(exited.value.code or 0), [json.loads(line) for line in out.splitlines()]


def by_name(lines: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {Path(line[key]).name: line for line in lines if key in line}


def assert_expected(matches: dict[str, list[dict[str, Any]]], video_id: int) -> None:
    [clip] = matches["clip.mp4"]
    assert (clip["bank"], clip["signal_type"]) == ("videos", "vpdq")
    assert clip["indicator_id"] == video_id
    assert clip["video"]["query_match_percent"] >= 80
    # The clip is a part of the banked video: much of the banked video is not in it.
    assert clip["video"]["compared_match_percent"] < 80
    assert clip["video"]["frames"][0]["time"] == 0.0
    # Each matched frame names where the banked video shows it (a still shot: its first time).
    assert all("banked_time" in frame for frame in clip["video"]["frames"])
    [still] = matches["inserted.mp4"]
    assert (still["bank"], still["signal_type"]) == ("images", "pdq")
    assert [frame["time"] for frame in still["video"]["frames"]] == [2.0, 3.0]
    assert matches["unrelated.mp4"] == []
    [image] = matches["still.png"]
    assert image["bank"] == "images" and image["distance"] <= 2


def test_tutela_match_finds_a_clip_and_an_inserted_still_and_not_an_unrelated_video(
    banked: int, backlog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run(capsys, "match", "--json", "--jobs", "2", str(backlog / "queries"))
    assert code == 0
    found = by_name(lines, "query")
    assert set(found) == {"clip.mp4", "inserted.mp4", "unrelated.mp4", "still.png"}
    assert_expected({name: line["matches"] for name, line in found.items()}, banked)


def test_tutela_scan_decides_videos_and_images_with_the_uploads_answers(
    banked: int, backlog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run(capsys, "scan", "--json", "--jobs", "1", str(backlog / "queries"))
    assert code == 0
    assert lines[-1]["summary"] == {"no_match": 1, "review": 3, "action": 0, "error": 0}
    found = by_name(lines, "path")
    assert_expected({name: line["matches"] for name, line in found.items()}, banked)
    assert found["unrelated.mp4"]["verdict"] == "no_match"
    assert found["clip.mp4"]["verdict"] == "review" and found["clip.mp4"]["case_id"]


def test_tutela_scan_gives_a_broken_video_its_typed_error(
    cli_env: Settings, backlog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "cut.mp4").write_bytes((backlog / "queries" / "clip.mp4").read_bytes()[:3000])
    code, lines = run(capsys, "scan", "--json", "--jobs", "1", str(folder))
    assert code == 0
    [line] = [line for line in lines if "path" in line]
    assert line["verdict"] == "error"
    assert line["error"]["code"] in {"corrupt", "unsupported_format"}


def test_tutela_scan_of_listed_urls_and_an_s3_prefix_hashes_videos_as_videos(
    banked: int,
    backlog: Path,
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The queries fetched, not opened: over http from a list file, and from an S3-compatible
    store under a prefix; each video is streamed to the spool, hashed by vPDQ and matched as
    the local scan matches it, within the video limits, while images keep theirs."""
    queries = backlog / "queries"
    web = {f"/{name}": (queries / name).read_bytes() for name in ("clip.mp4", "unrelated.mp4")}
    web["/still.png"] = (queries / "still.png").read_bytes()
    bucket = {"q/inserted.mp4": (queries / "inserted.mp4").read_bytes()}
    videos = [web["/clip.mp4"], web["/unrelated.mp4"], bucket["q/inserted.mp4"]]
    # The image limit below every video's size (and above the still's): a video read as an
    # image would be too_large; spooled, it is held to the video limit only.
    assert len(web["/still.png"]) < min(len(data) for data in videos)
    monkeypatch.setenv("TUTELA_MAX_FILE_BYTES", str(min(len(data) for data in videos) - 1))
    monkeypatch.setenv("TUTELA_SCAN_ALLOW_PRIVATE", "1")
    with serving(web_files(web)) as base, serving(s3_store({"media": bucket})) as endpoint:
        monkeypatch.setenv("TUTELA_S3_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("TUTELA_S3_REGION", REGION)
        monkeypatch.setenv("TUTELA_S3_ACCESS_KEY_ID", ACCESS_KEY)
        monkeypatch.setenv("TUTELA_S3_SECRET_ACCESS_KEY", SECRET_KEY)
        listing = tmp_path / "urls.txt"
        listing.write_text("".join(f"{base}{path}\n" for path in web))
        code, lines = run(capsys, "scan", "--json", "--jobs", "1", str(listing), "s3://media/q/")
    assert code == 0
    assert lines[-1]["summary"] == {"no_match": 1, "review": 3, "action": 0, "error": 0}
    found = by_name(lines, "path")
    assert set(found) == {"clip.mp4", "unrelated.mp4", "still.png", "inserted.mp4"}
    assert_expected({name: line["matches"] for name, line in found.items()}, banked)
    assert found["clip.mp4"]["verdict"] == "review" and found["clip.mp4"]["case_id"]
    spool = cli_env.data_dir / SCAN_SPOOL
    assert not spool.exists() or list(spool.iterdir()) == []  # each download removed once hashed
