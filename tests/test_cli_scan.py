"""`tutela scan`: a backlog through the detection pipeline, resumable, with a verdict summary."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from provider_fixtures import TUTELA, drawn_image, edited_copy, jpeg, make_bank, node_env
from tutela.db.database import open_database
from tutela.settings import Settings


def run_scan(settings: Settings, *args: str) -> list[dict[str, object]]:
    done = subprocess.run(
        [TUTELA, "scan", *args, "--json"],
        env=node_env(settings),
        capture_output=True,
        text=True,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_scan_finds_edited_copies_and_skips_files_already_done(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    database = open_database(settings)
    make_bank(database, "known", [drawn_image(i) for i in range(2)])
    database.close()
    backlog = tmp_path / "backlog"
    backlog.mkdir()
    (backlog / "copy.png").write_bytes(edited_copy(drawn_image(0), "flip"))
    (backlog / "copy2.jpg").write_bytes(edited_copy(drawn_image(1), "resize"))
    for i in range(10, 14):
        (backlog / f"plain{i}.jpg").write_bytes(jpeg(drawn_image(i)))
    (backlog / "notes.txt").write_text("not an image")
    first = run_scan(settings, str(backlog))
    assert first[-1] == {
        "summary": {"no_match": 4, "review": 2, "action": 0, "error": 1},
        "skipped": 0,
    }
    by_name = {Path(str(line["path"])).name: line for line in first[:-1]}
    assert by_name["copy.png"]["case_id"] is not None
    assert by_name["notes.txt"]["error"] == {
        "code": "unsupported_format",
        "message": by_name["notes.txt"]["error"]["message"],  # type: ignore[index]
    }
    (backlog / "new.jpg").write_bytes(jpeg(drawn_image(20)))
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(str(p) for p in sorted(backlog.iterdir())))
    second = run_scan(settings, "--list", str(listing))
    assert second[-1]["skipped"] == 7
    assert [Path(str(x["path"])).name for x in second[:-1] if not x["skipped"]] == ["new.jpg"]
