"""vPDQ text forms: Meta's tools' lines and python-threatexchange's JSON list both parse, both are
written, and `tutela hash` prints a video's vPDQ."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tutela.errors import InvalidHash
from tutela.signals.vpdq import (
    VpdqFrame,
    parse_vpdq,
    to_reference_lines,
    to_threatexchange,
    vpdq_of_file,
)
from video_files import TUTELA, picture, slideshow

A = "f8f8f0cee0f4a84f06370a22028f67f0b36e2ed596621e1d33e6b39c4e9c9b22"
B = "0000f0cee0f4a84f06370a22028f67f0b36e2ed596621e1d33e6b39c4e9c9b22"
FRAMES = (VpdqFrame(0, 100, A, 0.0), VpdqFrame(30, 87, B, 1.0))


def test_meta_tool_lines_parse_with_frame_numbers_qualities_and_times() -> None:
    text = f"0,100,{A},0.000\n30,87,{B},1.000\n"
    assert parse_vpdq(text) == FRAMES


def test_threatexchange_json_parses_in_its_own_time_format() -> None:
    # python-threatexchange writes times with three significant digits (f"{t:.3}").
    text = json.dumps([f"{A},100,{0.0:.3}", f"{B},87,{1.0:.3}"])
    assert [(f.hash, f.quality, f.timestamp) for f in parse_vpdq(text)] == [
        (A, 100, 0.0),
        (B, 87, 1.0),
    ]


@pytest.mark.parametrize("write", [to_reference_lines, to_threatexchange])
def test_what_we_write_parses_back_to_the_same_hashes(write: object) -> None:
    text = write(FRAMES)  # type: ignore[operator]
    assert [(f.hash, f.quality, f.timestamp) for f in parse_vpdq(text)] == [
        (f.hash, f.quality, f.timestamp) for f in FRAMES
    ]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        '{"0": 1}',
        f"0,100,{A[:-1]},0.000",
        f"0,101,{A},0.000",
        f"x,100,{A},0.000",
        f"0,100,{A}",
        json.dumps([f"{A},100"]),
        "[" * 50_000,
    ],
)
def test_a_malformed_vpdq_hash_is_an_invalid_hash(text: str) -> None:
    with pytest.raises(InvalidHash):
        parse_vpdq(text)


def test_a_video_hash_round_trips_through_both_forms(tmp_path: Path) -> None:
    vpdq = vpdq_of_file(slideshow(tmp_path / "v.mp4", [picture(1), picture(2)], 1))
    assert parse_vpdq(to_reference_lines(vpdq.frames)) == vpdq.frames


def test_tutela_hash_prints_a_videos_vpdq_and_exact_hashes(tmp_path: Path) -> None:
    path = slideshow(tmp_path / "v.mp4", [picture(1), picture(2)], 2)
    done = subprocess.run(
        [TUTELA, "hash", "--json", str(path)], capture_output=True, text=True, timeout=120
    )
    line = json.loads(done.stdout)
    assert done.returncode == 0 and line["content_type"] == "video"
    assert len(parse_vpdq(line["signals"]["vpdq"]["hash"])) == 4
    assert len(line["signals"]["sha256"]) == 64
