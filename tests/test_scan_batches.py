"""The pieces of `tutela scan --ray` that run without a Ray cluster: listing lines, admitting a batch
of files as items, the Ray task's per-file work run in this process, progress and /metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hostile_files import hostile_cases
from provider_fixtures import drawn_image, edited_copy, jpeg, make_bank
from tutela.api.metrics import NodeMetrics
from tutela.cli.scan import _address
from tutela.clock import FixedClock
from tutela.db.database import Database
from tutela.detection.models import Item, ItemStatus
from tutela.detection.ray_scan import NodeContext, _current_snapshot, decide_batch
from tutela.detection.scan_batches import ScanProgress, admit, item_views
from tutela.detection.scan_sources import Sources, look_at, path_of
from tutela.detection.verdicts import Outcome, record_outcomes
from tutela.errors import InvalidInput, NotSupported
from tutela.media.limits import MediaLimits
from tutela.settings import Settings

# Hostile files of every kind of error (tests/hostile_files.py), each with its own code.
HOSTILE = {"noise.jpg", "truncated.jpg", "bad_crc.png", "bomb.png", "scan_bomb.jpg", "text.bmp"}


def test_lines_name_paths_or_file_urls(tmp_path: Path) -> None:
    image = tmp_path / "a b.jpg"
    image.write_bytes(jpeg(drawn_image(1)))
    assert path_of("/x/y.jpg") == "/x/y.jpg"
    assert path_of("file:///x/a%20b.jpg") == "/x/a b.jpg"
    with pytest.raises(NotSupported):
        path_of("https://example.org/a.jpg")
    listed = look_at(image.as_uri())
    assert (listed.path, listed.size, listed.error) == (str(image), image.stat().st_size, None)
    assert listed.key.startswith(f"scan:{image}:")
    relative = look_at("a b.jpg", cwd=str(tmp_path))
    assert relative.key == listed.key
    gone = look_at(str(tmp_path / "gone.jpg"))
    assert gone.error is not None and gone.error["code"] == "unreadable"
    assert gone.key == f"scan:{tmp_path / 'gone.jpg'}"
    other = look_at("ftp://example.org/a.jpg")
    assert other.error is not None and other.error["code"] == "not_supported"
    folder = look_at(str(tmp_path))
    assert folder.error is not None and folder.error["code"] == "unreadable"


def test_sources_are_directories_and_list_files(tmp_path: Path) -> None:
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "e" / "2.jpg").write_bytes(b"x")
    (tmp_path / "d" / "1.jpg").write_bytes(b"x")
    listing = tmp_path / "list.txt"
    listing.write_text("/a.jpg\n\n  file:///b.jpg \n")
    sources = Sources.of([tmp_path / "d", listing])
    assert list(sources.lines()) == [
        str(tmp_path / "d" / "1.jpg"),
        str(tmp_path / "d" / "e" / "2.jpg"),
        "/a.jpg",
        "file:///b.jpg",
    ]
    with pytest.raises(InvalidInput):
        Sources.of([tmp_path / "missing"])
    with pytest.raises(InvalidInput):
        Sources.of([])
    (tmp_path / "binary").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InvalidInput):
        list(Sources.of([tmp_path / "binary"]).lines())


def test_a_batch_is_admitted_once_and_decided_items_are_skipped(
    database: Database, tmp_path: Path
) -> None:
    files = []
    for i in range(3):
        path = tmp_path / f"{i}.jpg"
        path.write_bytes(jpeg(drawn_image(i)))
        files.append(look_at(str(path)))
    gone = look_at(str(tmp_path / "gone.jpg"))
    first = admit(database, [*files, files[0], gone], {"source": "scan"})
    assert [f for _, f in first.pending] == files  # listed twice: one item
    assert [f for _, f in first.failed] == [gone] and first.done == []
    again = admit(database, files, {"source": "scan"})
    assert [i for i, _ in again.pending] == [i for i, _ in first.pending]  # no new items
    decided = first.pending[0][0]
    error = {"code": "corrupt", "message": "x"}
    record_outcomes(database, [(decided, Outcome(None, [], error))])
    # Recording it again (a batch written twice) gives it no second verdict.
    assert record_outcomes(database, [(decided, Outcome(None, []))]) == []
    third = admit(database, files, {"source": "scan"})
    assert [i for i, _ in third.done] == [decided]
    assert len(third.pending) == 2
    view = item_views(database, [decided])[decided]
    assert (view.status, view.verdict, view.error) == (ItemStatus.DONE, "error", error)
    with database.reader() as session:
        assert session.query(Item).count() == 4


def test_the_ray_task_decides_files_in_isolation_from_the_snapshot(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    """decide_batch, as a Ray worker runs it, here in this process: known copies match,
    hostile files get their typed errors, a file over the limit or gone is not read."""
    make_bank(database, "known", [drawn_image(0)])
    matcher = _current_snapshot(database)
    assert matcher.snapshot_dir is not None and (matcher.snapshot_dir / "manifest.json").exists()
    limits = MediaLimits(max_bytes=200_000, decode_timeout_s=20)
    context = NodeContext(
        settings.sqlalchemy_url, str(settings.data_dir), str(matcher.snapshot_dir), limits
    )
    files: list[tuple[int, str, int]] = []
    expected: dict[int, str] = {}

    def add(name: str, data: bytes, expect: str) -> None:
        path = tmp_path / name
        path.write_bytes(data)
        files.append((len(files) + 1, str(path), len(data)))
        expected[len(files)] = expect

    add("copy.jpg", edited_copy(drawn_image(0), "reencode"), "match")
    add("plain.jpg", jpeg(drawn_image(5)), "none")
    for case in hostile_cases():
        if case.name in HOSTILE:
            add(case.name, case.data, case.expect)
    add("big.jpg", b"\xff" * 300_000, "too_large")
    files.append((len(files) + 1, str(tmp_path / "gone.jpg"), 10))
    expected[len(files)] = "unreadable"
    outcomes = dict(decide_batch(context, files))
    assert sorted(outcomes) == sorted(expected)
    for key, expect in expected.items():
        outcome = outcomes[key]
        if expect == "match":
            assert [m.bank for m in outcome.matches] == ["known"] and outcome.error is None
        elif expect == "none":
            assert outcome.matches == [] and outcome.error is None and outcome.signals
        else:
            assert outcome.error is not None and outcome.error["code"] == expect, (key, outcome)


def test_progress_and_metrics_show_a_scan(database: Database, tmp_path: Path) -> None:
    clock = FixedClock(datetime(2026, 3, 1, 12, tzinfo=UTC))
    progress = ScanProgress(clock=clock, total=10)
    paths = []
    for i in range(3):
        path = tmp_path / f"{i}.jpg"
        path.write_bytes(b"x")
        paths.append(look_at(str(path)))
    admitted = admit(database, paths, {"source": "scan"})
    ids = [i for i, _ in admitted.pending]
    record_outcomes(database, [(ids[0], Outcome(None, [], {"code": "corrupt", "message": "x"}))])
    record_outcomes(database, [(ids[1], Outcome(None, []))])
    views = item_views(database, ids)
    clock.advance(timedelta(seconds=4))
    progress.add(views[ids[0]], skipped=False)
    progress.add(views[ids[1]], skipped=False)
    assert progress.rate == 0.5
    assert progress.line() == "2 of 10 files (0 skipped), 0.5 items/s, ETA 0m16s, errors: corrupt 1"
    assert progress.as_dict()["errors"] == {"corrupt": 1}
    text = NodeMetrics(database).render().decode()
    assert 'tutela_scan_items{state="undecided"} 1.0' in text
    assert 'tutela_scan_items{state="decided"} 2.0' in text
    assert 'tutela_scan_errors{code="corrupt"} 1.0' in text
    # Both were decided within the last minute (on the system clock, as recorded).
    assert "tutela_scan_items_per_second 0.0333" in text
    assert "tutela_scan_eta_seconds 30.0" in text


def test_ray_takes_an_address_before_the_sources(tmp_path: Path) -> None:
    given = ["10.0.0.5:6379", str(tmp_path)]
    assert _address(given) == "10.0.0.5:6379" and given == [str(tmp_path)]
    for address in ("auto", "ray://head:10001"):
        assert _address([address, str(tmp_path)]) == address
    local = [str(tmp_path), "10.0.0.5:6379"]
    assert _address(local) is None and len(local) == 2  # a local instance; a missing source
    assert _address(["backlog"]) is None and _address([]) is None
