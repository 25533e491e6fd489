"""`tutela bank import` and `tutela match` on videos: a vPDQ hash file banked (its form
recognised), then videos matched with their frames' times, one JSON line each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tutela.cli import main
from tutela.settings import Settings
from video_scenes import pan, resized, slideshow_frames, video, zoom


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def by_query(out: str) -> dict[str, dict[str, Any]]:
    return {Path(line["query"]).name: line for line in map(json.loads, out.splitlines())}


def test_a_hashed_video_banked_from_its_hash_file_matches_its_copies_and_not_others(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    movie = slideshow_frames(["astronaut", "coffee", "chelsea"]) + zoom("rocket", 2)
    banked = video(tmp_path / "banked.mp4", movie)
    queries = tmp_path / "queries"
    queries.mkdir()
    video(queries / "smaller.mp4", resized(movie, 240, 180))
    video(queries / "clip.mp4", movie[5:20])
    video(queries / "other.mp4", pan("immunohistochemistry", 4))
    code, out, _ = run(capsys, "hash", "--json", str(banked))
    assert code == 0
    hash_file = tmp_path / "banked.json"
    hash_file.write_text(json.loads(out)["signals"]["vpdq"]["hash"])
    run(capsys, "bank", "create", "videos")
    code, out, _ = run(capsys, "bank", "import", "videos", str(hash_file), "--json")
    assert code == 0 and json.loads(out)["added"] == 1
    code, out, _ = run(capsys, "match", "--json", str(queries))
    assert code == 0
    found = by_query(out)
    assert found["other.mp4"]["matches"] == []
    for name in ("smaller.mp4", "clip.mp4"):
        [match] = [m for m in found[name]["matches"] if m["signal_type"] == "vpdq"]
        assert match["bank"] == "videos"
        assert match["video"]["query_match_percent"] >= 80
        assert match["video"]["frames"][0]["time"] == 0.0
    assert found["clip.mp4"]["matches"][0]["video"]["compared_match_percent"] < 100
