"""`tutela bank import` of what `tutela hash --json` printed: each file's PDQ or vPDQ and its
exact hashes are banked under its name; a line with an error is a bad line; read as another
format, such a line says how to import it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from tutela.cli import main
from tutela.settings import Settings
from video_files import picture, slideshow


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


@pytest.fixture
def media(tmp_path: Path) -> Path:
    folder = tmp_path / "media"
    folder.mkdir()
    Image.fromarray(picture(21, 256, 256)).save(folder / "photo.png")
    slideshow(folder / "movie.mp4", [picture(22), picture(23)], 2)
    return folder


def hash_lines(capsys: pytest.CaptureFixture[str], target: Path, *paths: Path) -> str:
    _, out, _ = run(capsys, "hash", "--json", *map(str, paths))
    target.write_text(out, encoding="utf-8")
    return out


def test_hash_lines_bank_each_files_signals_under_its_name_and_then_match(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], media: Path, tmp_path: Path
) -> None:
    listing = tmp_path / "hashes.json"
    hash_lines(capsys, listing, media)
    run(capsys, "bank", "create", "known")
    code, out, err = run(capsys, "bank", "import", "known", str(listing), "--json")
    assert code == 0, err
    report = json.loads(out)
    # The photo's PDQ, MD5, SHA-1 and SHA-256; the video's vPDQ and the same three.
    assert (report["added"], report["bad"]) == (8, 0)
    code, out, _ = run(capsys, "bank", "import", "known", str(listing), "--json")
    assert (json.loads(out)["added"], json.loads(out)["already_present"]) == (0, 8)
    code, out, _ = run(capsys, "match", "--json", str(media))
    found = {Path(line["query"]).name: line for line in map(json.loads, out.splitlines())}
    assert "pdq" in {m["signal_type"] for m in found["photo.png"]["matches"]}
    assert "vpdq" in {m["signal_type"] for m in found["movie.mp4"]["matches"]}
    code, out, _ = run(capsys, "bank", "export", "known", "--format", "jsonl")
    names = {json.loads(line).get("external_id") for line in out.splitlines()}
    assert names == {"photo.png", "movie.mp4"}


def test_a_line_with_an_error_is_bad_and_the_others_are_banked(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], media: Path, tmp_path: Path
) -> None:
    (media / "notes.png").write_text("not a picture")
    listing = tmp_path / "hashes.jsonl"
    hash_lines(capsys, listing, media)
    run(capsys, "bank", "create", "known")
    code, out, _ = run(capsys, "bank", "import", "known", str(listing), "--json")
    assert code == 1
    report = json.loads(out)
    assert (report["added"], report["bad"]) == (8, 1)
    assert "did not hash whole (unsupported_format)" in report["bad_lines"][0]["reason"]


@pytest.mark.parametrize("list_format", ["jsonl", "text"])
def test_hash_lines_read_as_another_format_say_how_to_import_them(
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
    media: Path,
    tmp_path: Path,
    list_format: str,
) -> None:
    listing = tmp_path / "hashes.txt"
    hash_lines(capsys, listing, media / "photo.png")
    run(capsys, "bank", "create", "known")
    code, out, err = run(
        capsys, "bank", "import", "known", str(listing), "--format", list_format, "--json"
    )
    assert code == 1
    [bad] = json.loads(out)["bad_lines"]
    assert "tutela hash --json" in bad["reason"] and "without --format" in bad["reason"]
    assert "not hexadecimal" not in err
