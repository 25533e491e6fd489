"""The matcher snapshot: a Matcher that starts from it and replays the changes since matches
exactly what one that read every indicator matches; a snapshot that is damaged, of another format
or from another database is passed over for the database, never an error."""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from tutela.cli import main
from tutela.clock import Clock, FixedClock, utc_now
from tutela.db import Database, open_database
from tutela.indicators import banks, matcher_snapshot
from tutela.indicators import matcher as matcher_module
from tutela.indicators.changes import latest_seq
from tutela.indicators.ledger import (
    add_indicator,
    disable_indicator,
    enable_indicator,
    remove_indicator,
)
from tutela.indicators.matcher import Matcher
from tutela.indicators.matcher_snapshot import DIRECTORY_NAME, MANIFEST, snapshot_seq
from tutela.indicators.snapshot_keeper import SnapshotKeeper
from tutela.settings import Settings

MD5S = [f"{i:032x}" for i in range(1, 6)]


def random_pdq() -> str:
    return secrets.token_hex(32)


def flip_bits(hex_value: str, bits: int) -> str:
    """The same hash with its first `bits` bits inverted: at exactly that Hamming distance."""
    value = int(hex_value, 16) ^ (((1 << bits) - 1) << (256 - bits))
    return f"{value:064x}"


def snapshot_dir(database: Database) -> Path:
    assert database.data_dir is not None
    return database.data_dir / DIRECTORY_NAME


def loaded(
    database: Database,
    *,
    use_snapshot: bool = True,
    clock: Clock | None = None,
) -> Matcher:
    matcher = Matcher(database, use_snapshot=use_snapshot, clock=clock)
    matcher.load()
    return matcher


def answers(matcher: Matcher, pdqs: list[str], md5s: list[str]) -> list[object]:
    """Everything a caller can ask, for these values and PDQ hashes near them."""
    queries = [flip_bits(v, bits) for v in pdqs for bits in (0, 6, 20, 35)]
    rotated = [[random_pdq() if i != 3 else value for i in range(8)] for value in pdqs]
    return [
        matcher.match_hashes("pdq", queries),
        matcher.match_hashes("pdq", queries, include_review=True),
        matcher.match_hashes("pdq", [r[0] for r in rotated], rotated),
        matcher.match_hashes("md5", md5s),
        len(matcher),
    ]


def fill(database: Database, pdqs: list[str]) -> list[int]:
    """Three banks with PDQ and MD5 indicators; return the PDQ indicators' ids."""
    banks.create_bank(database, "loose", pdq_threshold=31)
    banks.create_bank(database, "banded", pdq_threshold=10, review_distance=40)
    banks.create_bank(database, "spare")
    ids = [add_indicator(database, "loose", "pdq", value).id for value in pdqs]
    for value in pdqs[:4]:
        add_indicator(database, "banded", "pdq", value)
    for value in MD5S[:3]:
        add_indicator(database, "loose", "md5", value)
    add_indicator(database, "spare", "md5", MD5S[3])
    add_indicator(database, "spare", "pdq", pdqs[-1])
    return ids


def test_snapshot_and_replay_match_exactly_what_a_full_load_matches(database: Database) -> None:
    pdqs = [random_pdq() for _ in range(12)]
    ids = fill(database, pdqs)
    disable_indicator(database, ids[0])
    loaded(database).save_snapshot()
    # After the snapshot: adds, removals, disables and enables, bank changes of every kind.
    later = [random_pdq() for _ in range(3)]
    for value in later:
        add_indicator(database, "banded", "pdq", value)
    add_indicator(database, "loose", "md5", MD5S[4])
    remove_indicator(database, ids[1])
    disable_indicator(database, ids[2])
    enable_indicator(database, ids[0])
    banks.set_bank_thresholds(database, "loose", pdq_threshold=8, review_distance=30)
    banks.set_bank_enabled(database, "spare", False)
    banks.delete_bank(database, "banded")
    banks.create_bank(database, "newer", pdq_threshold=40)
    add_indicator(database, "newer", "pdq", pdqs[5])

    replayed = loaded(database)
    fresh = loaded(database, use_snapshot=False)
    assert (replayed.loaded_from, fresh.loaded_from) == ("snapshot", "database")
    values = pdqs + later
    assert answers(replayed, values, MD5S) == answers(fresh, values, MD5S)
    assert replayed.seq == fresh.seq


def test_a_matcher_started_from_a_snapshot_follows_later_changes(database: Database) -> None:
    pdqs = [random_pdq() for _ in range(4)]
    ids = fill(database, pdqs)
    loaded(database).save_snapshot()
    matcher = loaded(database)
    newer = random_pdq()
    add_indicator(database, "loose", "pdq", newer)
    remove_indicator(database, ids[0])
    assert matcher.refresh() == 2
    assert [r.bank for r in matcher.match_hashes("pdq", [newer])[0]] == ["loose"]
    assert [r.bank for r in matcher.match_hashes("pdq", [pdqs[0]])[0]] == ["banded"]


def test_a_snapshot_made_before_a_bank_existed_matches_its_hashes_once_replayed(
    database: Database,
) -> None:
    fill(database, [random_pdq() for _ in range(3)])
    loaded(database).save_snapshot()
    late = random_pdq()
    banks.create_bank(database, "late")
    add_indicator(database, "late", "pdq", late)
    replayed = loaded(database)
    assert replayed.loaded_from == "snapshot"
    assert [r.bank for r in replayed.match_hashes("pdq", [late])[0]] == ["late"]
    # A snapshot written from that replay (what the keeper's `tutela bank snapshot` does) too.
    replayed.save_snapshot()
    assert [r.bank for r in loaded(database).match_hashes("pdq", [late])[0]] == ["late"]


def test_a_matcher_started_from_a_snapshot_follows_a_bank_created_later(
    database: Database,
) -> None:
    fill(database, [random_pdq() for _ in range(3)])
    loaded(database).save_snapshot()
    matcher = loaded(database)
    late = random_pdq()
    banks.create_bank(database, "late")
    add_indicator(database, "late", "pdq", late)
    matcher.refresh()
    assert [r.bank for r in matcher.match_hashes("pdq", [late])[0]] == ["late"]


def test_bank_rules_come_from_the_database_not_the_snapshot(database: Database) -> None:
    pdq = random_pdq()
    banks.create_bank(database, "a", pdq_threshold=31)
    add_indicator(database, "a", "pdq", pdq)
    loaded(database).save_snapshot()
    # A change the change sequence does not carry (as a bank setting outside the matcher's
    # rules would be): the rule is read afresh all the same.
    with database.unit_of_work() as session:
        session.execute(text("UPDATE banks SET pdq_threshold = 5, name = 'renamed'"))
    matcher = loaded(database)
    assert matcher.loaded_from == "snapshot"
    assert matcher.match_hashes("pdq", [flip_bits(pdq, 10)]) == [[]]
    assert [r.bank for r in matcher.match_hashes("pdq", [flip_bits(pdq, 5)])[0]] == ["renamed"]


def test_an_indicator_disabled_until_a_time_in_a_snapshot_returns_when_it_passes(
    database: Database,
) -> None:
    clock = FixedClock(utc_now())
    pdq = random_pdq()
    banks.create_bank(database, "a")
    indicator = add_indicator(database, "a", "pdq", pdq)
    disable_indicator(database, indicator.id, until=clock.now() + timedelta(hours=1))
    loaded(database).save_snapshot()
    before = loaded(database, clock=clock)
    assert (before.loaded_from, before.match_hashes("pdq", [pdq])) == ("snapshot", [[]])
    clock.advance(timedelta(hours=2))
    after = loaded(database, clock=clock)
    assert [r.indicator_id for r in after.match_hashes("pdq", [pdq])[0]] == [indicator.id]


def damage_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


def bump_format(path: Path) -> None:
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps(manifest | {"format": manifest["format"] + 1}))


def lower_format(path: Path) -> None:
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps(manifest | {"format": manifest["format"] - 1}))


DAMAGE: dict[str, tuple[str, Callable[[Path], object]]] = {
    "a flipped byte in the index": ("pdq.idx", damage_byte),
    "a truncated entry table": ("entries.idx", lambda p: p.write_bytes(p.read_bytes()[:100])),
    "a missing exact index": ("exact-md5.idx", Path.unlink),
    "a manifest that is not JSON": (MANIFEST, lambda p: p.write_text("{not json")),
    "a newer format": (MANIFEST, bump_format),
    "an older format": (MANIFEST, lower_format),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_snapshot_is_passed_over_for_the_database(
    database: Database, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    pdqs = [random_pdq() for _ in range(6)]
    fill(database, pdqs)
    expected = answers(loaded(database, use_snapshot=False), pdqs, MD5S)
    loaded(database).save_snapshot()
    name, spoil = DAMAGE[damage]
    spoil(snapshot_dir(database) / name)
    with caplog.at_level(logging.WARNING, logger="tutela.matcher"):
        matcher = loaded(database)
    assert matcher.loaded_from == "database"
    assert answers(matcher, pdqs, MD5S)[::3] == expected[::3]  # (the rotations are random)
    assert "snapshot" in caplog.text and "not used" in caplog.text
    if name == MANIFEST:
        # A node's snapshot keeper counts every change as not in it, and so writes a new one.
        assert snapshot_seq(snapshot_dir(database)) is None


def settle(directory: Path) -> None:
    """Date the snapshot's files an hour back, as if written long before this start."""
    for path in directory.iterdir():
        stamp = path.stat().st_mtime - 3600
        os.utime(path, (stamp, stamp))


def files_checked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the snapshot files whose checksums are computed from now on."""
    checked: list[str] = []
    real = matcher_snapshot._check_file

    def counting(path: Path, expected: object) -> None:
        checked.append(path.name)
        real(path, expected)

    monkeypatch.setattr(matcher_snapshot, "_check_file", counting)
    return checked


def test_a_snapshot_verified_once_is_not_read_whole_at_the_next_start(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    pdqs = [random_pdq() for _ in range(6)]
    fill(database, pdqs)
    expected = answers(loaded(database, use_snapshot=False), pdqs, MD5S)
    loaded(database).save_snapshot()
    settle(snapshot_dir(database))
    checked = files_checked(monkeypatch)
    first = loaded(database)
    assert sorted(checked) == ["entries.idx", "exact-md5.idx", "pdq.idx"]
    checked.clear()
    again = loaded(database)
    assert checked == []
    assert (first.loaded_from, again.loaded_from) == ("snapshot", "snapshot")
    assert answers(again, pdqs, MD5S)[::3] == expected[::3]


def test_a_file_damaged_after_it_was_verified_is_still_caught(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    pdqs = [random_pdq() for _ in range(6)]
    fill(database, pdqs)
    loaded(database).save_snapshot()
    settle(snapshot_dir(database))
    loaded(database)  # verifies every file and notes it
    damage_byte(snapshot_dir(database) / "pdq.idx")
    checked = files_checked(monkeypatch)
    assert loaded(database).loaded_from == "database"
    assert "pdq.idx" in checked


def test_files_written_just_now_are_checked_at_every_start(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file rewritten within the file system's clock tick would keep its times: only files
    written well before a check are taken on trust after it."""
    fill(database, [random_pdq() for _ in range(6)])
    loaded(database).save_snapshot()
    checked = files_checked(monkeypatch)
    loaded(database)
    loaded(database)
    assert checked.count("pdq.idx") == 2


def test_no_snapshot_means_reading_the_database(database: Database) -> None:
    banks.create_bank(database, "a")
    add_indicator(database, "a", "md5", MD5S[0])
    matcher = loaded(database)
    assert (matcher.loaded_from, len(matcher)) == ("database", 1)


def same_history(database: Database, pdqs: list[str]) -> None:
    banks.create_bank(database, "a")
    for value in pdqs:
        add_indicator(database, "a", "pdq", value)


def test_a_snapshot_from_another_database_is_not_used(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The other database went through the same steps (same sequence numbers, same ids) with other
    # hashes: only its identity tells the snapshot is not its own.
    other = open_database(Settings(data_dir=tmp_path / "other"))
    mine = open_database(settings)
    try:
        same_history(other, [random_pdq() for _ in range(3)])
        loaded(other).save_snapshot()
        pdqs = [random_pdq() for _ in range(3)]
        same_history(mine, pdqs)
        shutil.copytree(snapshot_dir(other), snapshot_dir(mine))
        with caplog.at_level(logging.WARNING, logger="tutela.matcher"):
            matcher = loaded(mine)
        assert matcher.loaded_from == "database"
        assert "another database" in caplog.text
        assert all(len(found) == 1 for found in matcher.match_hashes("pdq", pdqs))
    finally:
        other.close()
        mine.close()


def test_a_snapshot_newer_than_the_database_is_not_used(database: Database) -> None:
    """A database restored from a backup older than the snapshot."""
    banks.create_bank(database, "a")
    first = add_indicator(database, "a", "md5", MD5S[0])
    loaded(database).save_snapshot()
    with database.unit_of_work() as session:
        newest = session.execute(text("SELECT max(seq) FROM indicator_changes")).scalar_one()
        session.execute(text("DELETE FROM indicator_changes WHERE seq = :s"), {"s": newest})
        session.execute(text("DELETE FROM indicators WHERE id = :i"), {"i": first.id})
    matcher = loaded(database)
    assert (matcher.loaded_from, len(matcher)) == ("database", 0)


def test_a_snapshot_too_far_behind_is_not_replayed(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    banks.create_bank(database, "a")
    loaded(database).save_snapshot()
    for value in MD5S:
        add_indicator(database, "a", "md5", value)
    monkeypatch.setattr(matcher_module, "RELOAD_AFTER_CHANGES", 2)
    matcher = loaded(database)
    assert (matcher.loaded_from, len(matcher)) == ("database", 5)


def test_a_new_snapshot_replaces_the_old_one_whole(database: Database) -> None:
    banks.create_bank(database, "a")
    add_indicator(database, "a", "md5", MD5S[0])
    first = loaded(database).save_snapshot()
    add_indicator(database, "a", "md5", MD5S[1])
    second = loaded(database).save_snapshot()
    assert (first.indicators, second.indicators) == (1, 2)
    assert second.seq > first.seq
    assert database.data_dir is not None
    left = sorted(p.name for p in database.data_dir.iterdir() if p.name.startswith(DIRECTORY_NAME))
    assert left == [DIRECTORY_NAME, f"{DIRECTORY_NAME}.lock"]
    manifest = json.loads((snapshot_dir(database) / MANIFEST).read_text())
    assert manifest["seq"] == second.seq


def test_a_matcher_started_from_a_snapshot_keeps_working_when_it_is_replaced(
    database: Database,
) -> None:
    pdqs = [random_pdq() for _ in range(3)]
    same_history(database, pdqs)
    loaded(database).save_snapshot()
    running = loaded(database)  # its PDQ index maps the files about to be deleted
    add_indicator(database, "a", "pdq", random_pdq())
    loaded(database).save_snapshot()
    remove_indicator(database, running.match_hashes("pdq", [pdqs[0]])[0][0].indicator_id)
    running.refresh()
    assert [len(found) for found in running.match_hashes("pdq", pdqs)] == [0, 1, 1]


def test_a_deleted_bank_leaves_nothing_behind_when_its_id_is_taken_again(
    database: Database,
) -> None:
    pdq = random_pdq()
    banks.create_bank(database, "a")
    banks.create_bank(database, "old")
    add_indicator(database, "old", "pdq", pdq)
    matcher = loaded(database)
    matcher.save_snapshot()
    banks.delete_bank(database, "old")
    banks.create_bank(database, "new")  # SQLite hands out the deleted bank's id again
    matcher.refresh()
    assert matcher.match_hashes("pdq", [pdq]) == [[]]
    assert loaded(database).match_hashes("pdq", [pdq]) == [[]]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def test_bank_snapshot_writes_the_snapshot_that_matching_then_starts_from(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    pdq = random_pdq()
    database = open_database(cli_env)
    try:
        banks.create_bank(database, "a")
        add_indicator(database, "a", "pdq", pdq)
        code, out, _ = run(capsys, "bank", "snapshot", "--json")
        assert code == 0
        written = json.loads(out)
        assert (written["indicators"], written["directory"]) == (1, str(snapshot_dir(database)))
        matcher = loaded(database)
        assert (matcher.loaded_from, len(matcher.match_hashes("pdq", [pdq])[0])) == ("snapshot", 1)
        code, out, _ = run(capsys, "bank", "snapshot", "--full")
        assert code == 0 and "1 indicators" in out and "from the database" in out
    finally:
        database.close()


def test_a_large_import_writes_the_snapshot(
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tutela.cli import bank as bank_cli

    monkeypatch.setattr(bank_cli, "SNAPSHOT_AFTER_ADDED", 3)
    small, large = tmp_path / "small.txt", tmp_path / "large.txt"
    small.write_text(f"{MD5S[0]}\n")
    large.write_text("".join(f"{value}\n" for value in MD5S[1:]))
    assert run(capsys, "bank", "create", "a")[0] == 0
    code, out, _ = run(capsys, "bank", "import", "a", str(small), "--json")
    assert (code, json.loads(out)["snapshot"]) == (0, None)
    code, out, err = run(capsys, "bank", "import", "a", str(large), "--json")
    assert code == 0
    assert json.loads(out)["snapshot"]["indicators"] == 5
    assert "matcher snapshot: 5 indicators" in err
    code, out, _ = run(capsys, "bank", "import", "a", str(small), "--no-snapshot", "--json")
    assert json.loads(out)["snapshot"] is None


def test_disabled_until_survives_the_snapshot_as_the_same_time(database: Database) -> None:
    until = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=utc_now().tzinfo)
    banks.create_bank(database, "a")
    indicator = add_indicator(database, "a", "md5", MD5S[0])
    disable_indicator(database, indicator.id, until=until)
    loaded(database).save_snapshot()
    matcher = loaded(database, clock=FixedClock(until - timedelta(microseconds=1)))
    assert (matcher.loaded_from, matcher.match_hashes("md5", [MD5S[0]])) == ("snapshot", [[]])
    matcher = loaded(database, clock=FixedClock(until))
    assert len(matcher.match_hashes("md5", [MD5S[0]])[0]) == 1


# -- kept fresh by the running node (tutela.indicators.snapshot_keeper) ---------------------------


def test_the_keeper_writes_a_fresh_snapshot_in_a_child_once_it_falls_behind(
    database: Database, cli_env: Settings
) -> None:
    command = [sys.executable, "-m", "tutela", "bank", "snapshot"]
    keeper = SnapshotKeeper(database, command, behind=25)
    fill(database, [random_pdq() for _ in range(8)])  # 20 changes (banks and indicators)
    assert keeper.changes_behind() < 25
    assert not keeper() and keeper.wait() is None  # not behind enough: nothing started
    for _ in range(10):
        add_indicator(database, "loose", "pdq", random_pdq())

    assert keeper()
    assert keeper.wait(120) == 0
    assert snapshot_seq(snapshot_dir(database)) == latest(database)
    assert keeper.changes_behind() == 0
    assert not keeper()  # caught up: nothing more to do
    assert loaded(database).loaded_from == "snapshot"


def test_the_keeper_starts_no_second_run_while_one_is_writing(
    database: Database, cli_env: Settings, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    # Stands in for `tutela bank snapshot`: holds until the gate file appears.
    command = [
        sys.executable,
        "-c",
        f"import os,time\nwhile not os.path.exists({str(gate)!r}): time.sleep(0.05)",
    ]
    keeper = SnapshotKeeper(database, command, behind=1)
    add_indicator_bank(database)
    assert keeper()
    assert not keeper()  # the first is still going
    gate.write_text("go")
    assert keeper.wait(60) == 0
    assert keeper()  # finished, and still behind (the stand-in wrote nothing): again
    assert keeper.wait(60) == 0


def add_indicator_bank(database: Database) -> None:
    banks.create_bank(database, "keeper")
    add_indicator(database, "keeper", "pdq", random_pdq())


def latest(database: Database) -> int:
    with database.reader() as session:
        return latest_seq(session)
