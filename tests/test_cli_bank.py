"""`tutela db` and `tutela bank`, end to end through the real entry point and database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tutela.cli import main
from tutela.db import head_revision
from tutela.settings import Settings

MD5 = "0123456789abcdef0123456789abcdef"
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run `tutela ARGS…` in-process; return (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def test_db_upgrade_reports_the_revision(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "db", "upgrade", "--json")
    assert code == 0
    assert json.loads(out)["revision"] == head_revision()


def test_a_bank_is_created_listed_and_shown(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run(
        capsys, "bank", "create", "iwf", "--verified", "--pdq-threshold", "20",
        "--review-distance", "40", "--tag", "IWF-A", "--tag", "IWF-B",
    )  # fmt: skip
    assert code == 0
    code, out, _ = run(capsys, "bank", "list", "--json")
    (listed,) = [json.loads(line) for line in out.splitlines()]
    assert (listed["name"], listed["verified"], listed["pdq_threshold"]) == ("iwf", True, 20)
    assert listed["tags"] == ["IWF-A", "IWF-B"]
    code, out, _ = run(capsys, "bank", "show", "iwf")
    assert "review_distance: 40" in out


def test_errors_are_one_line_and_exit_1(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "bank", "show", "missing")
    assert (code, out) == (1, "")
    assert err == "error: no bank named 'missing' [not_found]\n"


def test_a_bad_option_is_a_usage_error(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run(capsys, "bank", "import", "x", "f.txt", "--format", "xml")
    assert code == 2


def test_import_reports_bad_lines_on_stderr_and_exits_1(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run(capsys, "bank", "create", "list")
    listing = tmp_path / "list.txt"
    listing.write_text(f"{MD5}\nnonsense\n")
    code, out, err = run(capsys, "bank", "import", "list", str(listing), "--json")
    assert code == 1
    assert json.loads(out)["added"] == 1
    assert err == f"{listing}:2: hash is not hexadecimal\n"
    code, out, _ = run(capsys, "bank", "import", "list", str(listing), "--json")
    assert json.loads(out)["added"] == 0


def test_a_64_character_list_needs_a_signal_type(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run(capsys, "bank", "create", "list")
    listing = tmp_path / "pdq.txt"
    listing.write_text(f"{PDQ}\n")
    code, _, err = run(capsys, "bank", "import", "list", str(listing))
    assert code == 1 and "--signal-type" in err
    code, _, _ = run(capsys, "bank", "import", "list", str(listing), "--signal-type", "pdq")
    assert code == 0


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "hma"])
def test_an_export_imports_back_unchanged(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    run(capsys, "bank", "create", "one")
    run(capsys, "bank", "create", "two")
    source = tmp_path / "in.csv"
    source.write_text(f"signal_type,value,tags\npdq,{PDQ},A1 B2\nmd5,{MD5},\n")
    run(capsys, "bank", "import", "one", str(source))
    exported = tmp_path / f"out.{fmt}"
    code, _, _ = run(capsys, "bank", "export", "one", "--format", fmt, "-o", str(exported))
    assert code == 0
    code, out, _ = run(capsys, "bank", "import", "two", str(exported), "--format", fmt, "--json")
    assert (code, json.loads(out)["added"]) == (0, 2)
    _, first, _ = run(capsys, "bank", "export", "one", "--format", "jsonl")
    _, second, _ = run(capsys, "bank", "export", "two", "--format", "jsonl")
    strip = [
        {k: v for k, v in json.loads(line).items() if k != "metadata"}
        for line in first.splitlines()
    ]
    assert strip == [
        {k: v for k, v in json.loads(line).items() if k != "metadata"}
        for line in second.splitlines()
    ]


def test_a_text_export_of_mixed_types_needs_a_signal_type(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run(capsys, "bank", "create", "mixed")
    source = tmp_path / "in.csv"
    source.write_text(f"signal_type,value\npdq,{PDQ}\nmd5,{MD5}\n")
    run(capsys, "bank", "import", "mixed", str(source))
    code, _, err = run(capsys, "bank", "export", "mixed", "--format", "text")
    assert code == 1 and "--signal-type" in err
    code, out, _ = run(
        capsys, "bank", "export", "mixed", "--format", "text", "--signal-type", "md5"
    )
    assert out == f"{MD5}\n"


def test_disable_enable_and_delete(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "bank", "create", "b")
    _, out, _ = run(capsys, "bank", "disable", "b", "--json")
    assert json.loads(out)["enabled"] is False
    _, out, _ = run(capsys, "bank", "enable", "b", "--json")
    assert json.loads(out)["enabled"] is True
    code, _, err = run(capsys, "bank", "delete", "b")
    assert code == 1 and "--yes" in err
    code, _, _ = run(capsys, "bank", "delete", "b", "--yes")
    assert code == 0
    _, out, _ = run(capsys, "bank", "list", "--json")
    assert out == ""


def test_fetch_without_credentials_says_which_variables_to_set(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TUTELA_NCMEC_USERNAME", raising=False)
    monkeypatch.delenv("TUTELA_NCMEC_PASSWORD", raising=False)
    run(capsys, "bank", "create", "ncmec")
    code, _, err = run(capsys, "bank", "fetch", "ncmec", "--from", "ncmec")
    assert code == 1 and "TUTELA_NCMEC_USERNAME" in err
