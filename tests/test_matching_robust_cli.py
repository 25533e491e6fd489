"""`tutela bank create --robust` and `tutela match`: a framed copy matches a robust bank, named
by the variant that matched; an ordinary bank stays blind to it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageOps
from skimage import data as skdata

from tutela.cli import main
from tutela.settings import Settings
from tutela.signals.hashing import hash_file
from tutela.signals.pdq import PdqMode


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, _ = capsys.readouterr()
    return int(exited.value.code or 0), out


def banked_and_bordered(tmp_path: Path) -> tuple[Path, Path]:
    """The astronaut photo, banked by its exact PDQ, and a copy with a white border."""
    original = Image.fromarray(skdata.astronaut())  # type: ignore[no-untyped-call]  # skimage is unannotated
    original.save(tmp_path / "original.png")
    ImageOps.expand(original, 50, fill="white").save(tmp_path / "bordered.jpg", quality=90)
    pdq = hash_file(str(tmp_path / "original.png"), mode=PdqMode.EXACT).pdq
    assert pdq is not None
    (tmp_path / "list.txt").write_text(pdq.hash + "\n")
    return tmp_path / "list.txt", tmp_path / "bordered.jpg"


def matches(out: str) -> list[dict[str, Any]]:
    (line,) = [json.loads(text) for text in out.splitlines()]
    found: list[dict[str, Any]] = line["matches"]
    return found


def test_a_bordered_copy_matches_a_robust_bank_with_the_trim_variant(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    listing, copy = banked_and_bordered(tmp_path)
    run(capsys, "bank", "create", "known", "--robust")
    run(capsys, "bank", "import", "known", str(listing), "--signal-type", "pdq")
    code, out = run(capsys, "match", str(copy), "--json", "-j", "1")
    assert code == 0
    (match,) = matches(out)
    assert (match["bank"], match["variant"]) == ("known", "trim") and match["distance"] <= 31


def test_a_bordered_copy_does_not_match_a_bank_without_robust_matching(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    listing, copy = banked_and_bordered(tmp_path)
    run(capsys, "bank", "create", "known")
    run(capsys, "bank", "import", "known", str(listing), "--signal-type", "pdq")
    code, out = run(capsys, "match", str(copy), "--json", "-j", "1")
    assert code == 0 and matches(out) == []
    _, shown = run(
        capsys, "bank", "thresholds", "known", "--pdq-threshold", "31", "--robust", "--json"
    )
    assert json.loads(shown)["robust"] is True
    _, out = run(capsys, "match", str(copy), "--json", "-j", "1")
    assert [m["variant"] for m in matches(out)] == ["trim"]
