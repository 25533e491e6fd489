"""`tutela match`: hashes and files against the banks, one JSON line per query."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tutela.cli import main
from tutela.settings import Settings
from tutela.signals.hashing import hash_file

MD5 = "0123456789abcdef0123456789abcdef"
HEX64 = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
README = Path(__file__).resolve().parents[1] / "README.md"


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


def lines(out: str) -> list[dict[str, Any]]:
    # JSON lines: values of any JSON type, as the tests read them.
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


def test_a_64_character_hash_is_matched_as_pdq_and_as_sha256_each_match_naming_its_type(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text(f"{HEX64}\n")
    for name, kind in (("pdqs", "pdq"), ("files", "sha256")):
        run(capsys, "bank", "create", name)
        run(capsys, "bank", "import", name, str(listing), "--signal-type", kind)
    code, out, _ = run(capsys, "match", "--hash", HEX64.upper(), "--json")
    assert code == 0
    (line,) = lines(out)
    found = {(m["bank"], m["signal_type"], m["distance"]) for m in line["matches"]}
    assert (line["query"], found) == (HEX64, {("pdqs", "pdq", 0), ("files", "sha256", 0)})


def test_signal_type_narrows_a_64_character_hash_to_one_type(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text(f"{HEX64}\n")
    run(capsys, "bank", "create", "files")
    run(capsys, "bank", "import", "files", str(listing), "--signal-type", "sha256")
    _, out, _ = run(capsys, "match", "--hash", HEX64, "--signal-type", "pdq", "--json")
    assert lines(out) == [{"query": HEX64, "matches": []}]


def readme_bank_example() -> list[list[str]]:
    """The `tutela …` lines of the README's shell block that shows `tutela match --hash`."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), re.S)
    (block,) = [b for b in blocks if "tutela match --hash" in b]
    commands = [line.strip() for line in block.splitlines()]
    return [shlex.split(line)[1:] for line in commands if line.startswith("tutela ")]


def test_the_readme_bank_example_runs_as_written(
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    commands = readme_bank_example()
    (value,) = [args[2] for args in commands if args[:2] == ["match", "--hash"]]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "list.txt").write_text(f"{value}\n")
    (tmp_path / "photos").mkdir()
    drawn_image(tmp_path / "photos" / "a.png")
    outputs = []
    for args in commands:
        code, out, err = run(capsys, *args)
        assert code == 0, (args, err)
        outputs.append(out)
    assert "eu-centre" in outputs[-1] and " pdq " in outputs[-1]


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
    assert len(by_query[MD5]["matches"]) == 1
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
    (match,) = line["matches"]
    assert match["bank"] == "known" and match["signal_type"] == "pdq"
    assert match["variant"] != "original" and match["distance"] <= 31


def test_a_file_that_is_no_usable_media_fails_with_its_error_and_its_exact_hashes_still_match(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    known = tmp_path / "known.mp4"
    known.write_bytes(b"plain text, not a video")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    run(capsys, "bank", "create", "known")
    listing = tmp_path / "known.txt"
    listing.write_text(hash_file(str(known)).md5 + "\n")
    run(capsys, "bank", "import", "known", str(listing), "--signal-type", "md5")
    code, out, _ = run(capsys, "match", str(known), str(empty), "--json", "-j", "1")
    assert code == 1
    by_query = {Path(line["query"]).name: line for line in lines(out)}
    assert by_query["known.mp4"]["error"]["code"] == "unsupported_format"
    assert [m["signal_type"] for m in by_query["known.mp4"]["matches"]] == ["md5"]
    assert by_query["empty.png"]["error"]["code"] == "empty"
    assert by_query["empty.png"]["matches"] == []
    code, out, _ = run(capsys, "match", str(empty), "-j", "1")
    assert code == 1 and out.splitlines()[1].startswith("error: empty")
