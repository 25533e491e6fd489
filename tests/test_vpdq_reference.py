"""A vPDQ hash file written by Meta's reference `vpdq` package (tests/data/vpdq, made by
bench/vpdq_fixture.py from a drawn, benign video) imports into a bank with its frames, qualities
and times; our hash of the same video matches it frame for frame; and the hash files we write
have the reference's form. No test here imports vpdq: the reference's output is the fixture."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from tutela.cli import main
from tutela.db.database import Database
from tutela.indicators.models import Indicator
from tutela.indicators.video_banks import get_video_frames
from tutela.settings import Settings
from tutela.signals.pdq import PdqSignal
from tutela.signals.vpdq import VpdqFrame, parse_vpdq

DATA = Path(__file__).parent / "data" / "vpdq"
VIDEO = DATA / "shapes.mp4"
REFERENCE = DATA / "shapes.mp4.txt"  # Meta's tools' hash file: frame,quality,pdq_hex,seconds
REFERENCE_CLI = DATA / "shapes.mp4.cli.txt"  # the vpdq package's command: pdq_hex,quality,seconds
# What the reference wrote for this video: six frames, one a second at 10 frames/s.
NUMBERS = [0, 10, 20, 30, 40, 50]
TIMES = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
# Meta's hash-file line, exactly: no spaces, three decimals, "\n" after every line.
META_LINE = re.compile(r"(\d+),(\d{1,3}),([0-9a-f]{64}),(\d+\.\d{3})\n")
# Measured on this fixture: exact mode 0 bits from the reference on every frame, fast mode 2 at
# most; the margins allow another FFmpeg build's rounding.
EXACT_BITS = 4
FAST_BITS = 8


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def reference_frames() -> tuple[VpdqFrame, ...]:
    return parse_vpdq(REFERENCE.read_text(encoding="ascii"))


def banked_frames(database: Database) -> tuple[VpdqFrame, ...]:
    with database.reader() as session:
        [ident] = session.scalars(select(Indicator.id).where(Indicator.signal_type == "vpdq"))
    return get_video_frames(database, ident)


def test_the_fixture_is_small_and_the_reference_wrote_meta_lines() -> None:
    assert sum(path.stat().st_size for path in DATA.iterdir()) < 200_000
    text = REFERENCE.read_text(encoding="ascii")
    assert len(META_LINE.findall(text)) == len(NUMBERS)
    assert "".join(m.group(0) for m in META_LINE.finditer(text)) == text


def test_a_reference_hash_file_imports_with_its_frames_qualities_and_times(
    cli_env: Settings, database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "bank", "create", "videos")
    code, out, err = run(capsys, "bank", "import", "videos", str(REFERENCE), "--json")
    assert code == 0, err
    assert (json.loads(out)["added"], json.loads(out)["bad"]) == (1, 0)
    frames = banked_frames(database)
    assert [f.number for f in frames] == NUMBERS
    assert [f.timestamp for f in frames] == TIMES
    assert [f.quality for f in frames] == [100] * len(NUMBERS)
    assert frames == reference_frames()


def test_the_vpdq_commands_lines_bank_the_same_video_once(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "bank", "create", "videos")
    run(capsys, "bank", "import", "videos", str(REFERENCE), "--json")
    code, out, err = run(capsys, "bank", "import", "videos", str(REFERENCE_CLI), "--json")
    assert code == 0, err
    assert (json.loads(out)["added"], json.loads(out)["already_present"]) == (0, 1)


@pytest.mark.parametrize(("exact", "bits"), [(True, EXACT_BITS), (False, FAST_BITS)])
def test_our_hash_of_the_video_samples_the_references_frames_within_a_few_bits(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path, exact: bool, bits: int
) -> None:
    args = ["hash", "--json", "--vpdq-dir", str(tmp_path), str(VIDEO)]
    code, out, err = run(capsys, *args, *(["--exact"] if exact else []))
    assert code == 0, err
    ours = parse_vpdq((tmp_path / "shapes.mp4.txt").read_text(encoding="ascii"))
    reference = reference_frames()
    assert [(f.number, f.timestamp) for f in ours] == [(f.number, f.timestamp) for f in reference]
    distances = [PdqSignal.distance(a.hash, b.hash) for a, b in zip(ours, reference, strict=True)]
    assert max(distances) <= bits, distances
    assert all(abs(a.quality - b.quality) <= 5 for a, b in zip(ours, reference, strict=True))
    printed = json.loads(out)["signals"]["vpdq"]
    assert printed["frames"] == len(NUMBERS)
    assert [f.hash for f in parse_vpdq(printed["hash"])] == [f.hash for f in ours]


def test_the_video_matches_the_banked_reference_hash_in_full(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "bank", "create", "videos")
    run(capsys, "bank", "import", "videos", str(REFERENCE), "--json")
    code, out, err = run(capsys, "match", "--json", str(VIDEO))
    assert code == 0, err
    [match] = json.loads(out)["matches"]
    assert (match["bank"], match["signal_type"]) == ("videos", "vpdq")
    assert match["video"]["query_match_percent"] == 100.0
    assert match["video"]["compared_match_percent"] == 100.0
    assert [f["time"] for f in match["video"]["frames"]] == TIMES


def test_the_hash_files_we_write_have_the_references_form(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    videos = tmp_path / "videos"
    (videos / "again").mkdir(parents=True)
    shutil.copy(VIDEO, videos / "shapes.mp4")
    shutil.copy(VIDEO, videos / "again" / "shapes.mp4")
    out_dir = tmp_path / "hashes"
    code, _, err = run(capsys, "hash", "--json", "--exact", "--vpdq-dir", str(out_dir), str(videos))
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["shapes.mp4.2.txt", "shapes.mp4.txt"]
    ours = (out_dir / "shapes.mp4.txt").read_text(encoding="ascii")
    theirs = REFERENCE.read_text(encoding="ascii")
    assert "".join(m.group(0) for m in META_LINE.finditer(ours)) == ours
    ours_fields = [m.groups() for m in META_LINE.finditer(ours)]
    theirs_fields = [m.groups() for m in META_LINE.finditer(theirs)]
    # Frame numbers and times character for character; quality and hash in their places.
    assert [(f[0], f[3]) for f in ours_fields] == [(f[0], f[3]) for f in theirs_fields]
    assert len(ours_fields) == len(theirs_fields) == len(NUMBERS)


def test_a_directory_of_our_hash_files_banks_each_video_under_its_name(
    cli_env: Settings, database: Database, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run(capsys, "hash", "--json", "--vpdq-dir", str(tmp_path / "hashes"), str(VIDEO))
    run(capsys, "bank", "create", "videos")
    code, out, err = run(capsys, "bank", "import", "videos", str(tmp_path / "hashes"), "--json")
    assert code == 0, err
    assert json.loads(out)["added"] == 1
    with database.reader() as session:
        assert session.scalars(select(Indicator.external_id)).all() == ["shapes.mp4"]
