"""`tutela hash`: the JSON-lines contract, exit codes, directories, and no traceback ever."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import TESTDATA as SHARED_TESTDATA

TESTDATA = SHARED_TESTDATA / "pdq"
TUTELA = str(Path(sys.executable).parent / "tutela")
EXPECTED = json.loads((TESTDATA / "expected.json").read_text())


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TUTELA, *args], capture_output=True, text=True, timeout=120)


def lines(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, object]]:
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return {Path(str(row["path"])).name: row for row in rows}


def test_hash_json_lines_follow_the_contract_and_exit_zero(tmp_path: Path) -> None:
    for name in ("aaa-orig.jpg", "square-128x128.jpg"):
        shutil.copy(TESTDATA / name, tmp_path / name)
    result = run("hash", "--json", "--exact", str(tmp_path))
    assert result.returncode == 0, result.stderr
    rows = lines(result)
    assert set(rows) == {"aaa-orig.jpg", "square-128x128.jpg"}
    row = rows["aaa-orig.jpg"]
    assert row["content_type"] == "photo"
    signals = row["signals"]
    assert isinstance(signals, dict)
    assert signals["pdq"] == {
        "hash": EXPECTED["aaa-orig.jpg"]["pdq"],
        "quality": 100,
        "matchable": True,
    }
    assert signals["md5"] == EXPECTED["aaa-orig.jpg"]["md5"]
    assert signals["sha256"] == EXPECTED["aaa-orig.jpg"]["sha256"]
    assert len(str(signals["sha1"])) == 40


def test_directories_are_searched_recursively(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    shutil.copy(TESTDATA / "aaa-orig.jpg", tmp_path / "a" / "b" / "deep.jpg")
    shutil.copy(TESTDATA / "aaa-orig.jpg", tmp_path / "top.jpg")
    result = run("hash", "--json", "--jobs", "1", str(tmp_path))
    assert result.returncode == 0
    assert set(lines(result)) == {"deep.jpg", "top.jpg"}


def test_a_file_that_fails_gives_its_error_line_and_exit_one(tmp_path: Path) -> None:
    shutil.copy(TESTDATA / "aaa-orig.jpg", tmp_path / "good.jpg")
    (tmp_path / "notes.jpg").write_text("<html>not an image</html>")
    result = run("hash", "--json", str(tmp_path), str(tmp_path / "missing.jpg"))
    assert result.returncode == 1
    rows = lines(result)
    assert "signals" in rows["good.jpg"] and "error" not in rows["good.jpg"]
    assert rows["notes.jpg"]["error"] == {
        "code": "unsupported_format",
        "message": "not a supported image (JPEG, PNG, GIF, WebP, BMP, TIFF) or video "
        "(MP4/MOV, WebM/MKV, AVI), judged by its content",
    }
    missing = rows["missing.jpg"]["error"]
    assert isinstance(missing, dict) and missing["code"] == "not_found"
    assert "Traceback" not in result.stderr


def test_human_output_is_a_table(tmp_path: Path) -> None:
    shutil.copy(TESTDATA / "aaa-orig.jpg", tmp_path / "x.jpg")
    result = run("hash", "--exact", str(tmp_path / "x.jpg"))
    assert result.returncode == 0
    header, row = result.stdout.splitlines()
    assert header.split() == ["quality", "pdq", "path"]
    assert row.split() == ["100", EXPECTED["aaa-orig.jpg"]["pdq"], str(tmp_path / "x.jpg")]


def test_usage_errors_exit_two_without_a_traceback() -> None:
    for args in (["hash"], ["hash", "--jobs", "0", "x"], ["hash", "--no-such-option", "x"]):
        result = run(*args)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr
