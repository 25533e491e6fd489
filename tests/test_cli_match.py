"""`tutela match`: hashes and files against the banks, one JSON line per query."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tutela.cli import main
from tutela.settings import Settings
from tutela.signals.hashing import hash_file

MD5 = "0123456789abcdef0123456789abcdef"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def drawn_image(path: Path) -> Path:
    """A benign picture with structure enough for a high-quality PDQ: rings and a gradient."""
    y, x = np.mgrid[0:256, 0:320]
    red = (np.sin(np.hypot(x - 120, y - 100) / 9.0) * 127 + 128).astype(np.uint8)
    green = (x * 255 // 319).astype(np.uint8)
    blue = ((x ^ y) & 0xFF).astype(np.uint8)
    Image.fromarray(np.dstack([red, green, blue])).save(path)
    return path


def lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines()]


def test_a_hash_in_a_bank_matches_and_one_not_in_it_does_not(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run(capsys, "bank", "create", "list")
    listing = tmp_path / "list.txt"
    listing.write_text(f"{MD5}\n")
    run(capsys, "bank", "import", "list", str(listing))
    other = "f" * 32
    code, out, _ = run(capsys, "match", "--hash", MD5, "--hash", other, "--json")
    assert code == 0
    assert lines(out) == [
        {
            "query": MD5,
            "matches": [{"bank": "list", "indicator_id": 1, "signal_type": "md5", "distance": 0}],
        },
        {"query": other, "matches": []},
    ]


def test_a_64_character_hash_needs_a_signal_type(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "match", "--hash", "a" * 64)
    assert code == 1 and "--signal-type" in err


def test_a_hash_file_is_matched_line_by_line(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run(capsys, "bank", "create", "list")
    listing = tmp_path / "list.txt"
    listing.write_text(f"{MD5}\n")
    run(capsys, "bank", "import", "list", str(listing))
    queries = tmp_path / "queries.txt"
    queries.write_text(f"# to check\n{MD5}\nbogus\n")
    code, out, _ = run(capsys, "match", "--hash-file", str(queries), "--json")
    assert code == 1  # one line was not a hash
    by_query = {str(line["query"]): line for line in lines(out)}
    assert len(by_query[MD5]["matches"]) == 1  # type: ignore[arg-type]
    assert by_query[f"{queries}:3"]["error"] == {
        "code": "invalid_input",
        "message": "hash is not hexadecimal",
    }


def test_a_rotated_copy_of_a_banked_image_matches_with_its_variant(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    original = drawn_image(tmp_path / "original.png")
    rotated = tmp_path / "rotated.png"
    Image.open(original).rotate(90, expand=True).save(rotated)
    pdq = hash_file(str(original)).pdq
    assert pdq is not None and pdq.matchable
    run(capsys, "bank", "create", "known")
    listing = tmp_path / "known.txt"
    listing.write_text(pdq.hash + "\n")
    run(capsys, "bank", "import", "known", str(listing), "--signal-type", "pdq")
    code, out, _ = run(capsys, "match", str(rotated), "--json", "-j", "1")
    assert code == 0
    (line,) = lines(out)
    (match,) = line["matches"]  # type: ignore[misc]
    assert match["bank"] == "known" and match["signal_type"] == "pdq"
    assert match["variant"] != "original" and match["distance"] <= 31
