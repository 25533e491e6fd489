"""`tutela scan`: a backlog through the detection pipeline, resumable, with a verdict summary."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from sqlalchemy import func, select

from provider_fixtures import TUTELA, drawn_image, edited_copy, jpeg, make_bank, node_env
from tutela.db.database import open_database
from tutela.detection.models import Item
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


def known_and_backlog(tmp_path: Path, plain: range) -> tuple[Settings, Path]:
    """A node's settings with a bank of two drawn pictures, and a backlog folder holding an
    edited copy of each (copy.png, copy2.jpg) and unrelated pictures plain{i}.jpg."""
    settings = Settings(data_dir=tmp_path / "data")
    database = open_database(settings)
    make_bank(database, "known", [drawn_image(i) for i in range(2)])
    database.close()
    backlog = tmp_path / "backlog"
    backlog.mkdir()
    (backlog / "copy.png").write_bytes(edited_copy(drawn_image(0), "flip"))
    (backlog / "copy2.jpg").write_bytes(edited_copy(drawn_image(1), "resize"))
    for i in plain:
        (backlog / f"plain{i}.jpg").write_bytes(jpeg(drawn_image(i)))
    return settings, backlog


def test_scan_finds_edited_copies_and_skips_files_already_done(tmp_path: Path) -> None:
    settings, backlog = known_and_backlog(tmp_path, range(10, 14))
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


def test_drivers_given_shares_split_a_backlog_and_decide_each_file_once(tmp_path: Path) -> None:
    # Three drivers at once on the same database, each its own --shard of the same sources (a
    # directory and a list file): every file is decided by exactly one of them, correctly, and a
    # re-run, of a share or of the whole, decides nothing new.
    settings, backlog = known_and_backlog(tmp_path, range(10, 22))
    extra = tmp_path / "extra"
    extra.mkdir()
    for i in range(30, 34):
        (extra / f"listed{i}.jpg").write_bytes(jpeg(drawn_image(i)))
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(str(p) for p in sorted(extra.iterdir())) + "\n")
    names = {p.name for p in [*backlog.iterdir(), *extra.iterdir()]}
    drivers = [
        subprocess.Popen(
            [TUTELA, "scan", str(backlog), str(listing), "--shard", f"{k}/3", "--json"],
            env=node_env(settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in (1, 2, 3)
    ]
    shares: list[set[str]] = []
    for driver in drivers:
        out, err = driver.communicate(timeout=600)
        assert driver.returncode == 0, err[-3000:]
        done = [json.loads(line) for line in out.splitlines()]
        assert done[-1]["skipped"] == 0
        shares.append({Path(str(line["path"])).name for line in done[:-1]})
    assert all(shares) and sum(len(share) for share in shares) == len(names)
    assert set().union(*shares) == names
    database = open_database(settings)
    with database.reader() as session:
        rows = session.execute(select(Item.item_ref, Item.verdict)).all()
    database.close()
    verdicts = {re.sub(r":\d+:\d+$", "", ref).rsplit("/", 1)[-1]: v for ref, v in rows}
    assert len(rows) == len(names)
    assert verdicts == {n: "review" if n.startswith("copy") else "no_match" for n in names}
    again = run_scan(settings, str(backlog), str(listing), "--shard", "2/3")
    assert again[-1]["skipped"] == len(shares[1]) == len(again) - 1
    whole = run_scan(settings, str(backlog), str(listing))
    assert whole[-1]["skipped"] == len(names)


def test_a_shard_that_is_not_k_of_n_is_refused_before_anything_is_scanned(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    backlog = tmp_path / "backlog"
    backlog.mkdir()
    (backlog / "a.jpg").write_bytes(jpeg(drawn_image(1)))
    for shard in ("0/2", "3/2", "1/0", "1", "a/b", "-1/2", "1/2/3"):
        done = subprocess.run(
            [TUTELA, "scan", str(backlog), "--shard", shard],
            env=node_env(settings),
            capture_output=True,
            text=True,
        )
        assert done.returncode == 1, (shard, done.stderr)
        assert done.stderr.startswith("error: --shard") and "[invalid_input]" in done.stderr
    database = open_database(settings)
    with database.reader() as session:
        assert session.execute(select(func.count()).select_from(Item)).scalar_one() == 0
    database.close()
