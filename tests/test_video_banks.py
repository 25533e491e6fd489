"""Video banks and vPDQ matching: videos banked from Meta's and python-threatexchange's text
forms, each banked video's distinct frames in the one PDQ index, and matching with vPDQ's
shares and each bank's thresholds; every sampled frame also against image banks."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from tutela.db import Database
from tutela.errors import InvalidInput
from tutela.indicators import banks
from tutela.indicators.exports import export_indicators
from tutela.indicators.ledger import add_indicator, remove_indicator
from tutela.indicators.list_formats import ListFormat
from tutela.indicators.matcher import Matcher, MatchResult
from tutela.indicators.matcher_videos import frame_set, score
from tutela.indicators.models import Indicator
from tutela.indicators.video_banks import (
    VPDQ,
    add_video_indicator,
    import_video_file,
    import_videos,
    read_video_list,
    video_key,
)
from tutela.signals.pdq import pdq_of_pixels
from tutela.signals.vpdq import (
    VpdqFrame,
    VpdqHash,
    to_reference_lines,
    to_threatexchange,
    vpdq_of_file,
)
from video_scenes import (
    pan,
    photo,
    resized,
    shot,
    slideshow_frames,
    video,
    zoom,
)

MOVIE = ["astronaut", "coffee", "chelsea", "rocket"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, VpdqHash]:
    """The vPDQ of each test video, made once for the module."""
    root = tmp_path_factory.mktemp("videos")
    movie = slideshow_frames(MOVIE) + pan("hubble_deep_field", 3) + zoom("astronaut", 3)
    made = {
        "movie": video(root / "movie.mp4", movie),
        # Another size and bitrate, and another codec and container.
        "smaller": video(root / "smaller.mp4", resized(movie, 240, 180)),
        "vp9": video(root / "vp9.webm", movie, codec="libvpx-vp9"),
        # Four seconds cut from the middle.
        "clip": video(root / "clip.mp4", movie[2 * 5 : 6 * 5]),
        "unrelated": video(
            root / "unrelated.mp4", pan("immunohistochemistry", 4) + zoom("hubble_deep_field", 4)
        ),
        # A known still shown for two seconds inside an unrelated video.
        "inserted": video(
            root / "inserted.mp4",
            pan("immunohistochemistry", 3) + shot("chelsea", 2) + zoom("hubble_deep_field", 3),
        ),
    }
    return {name: vpdq_of_file(path) for name, path in made.items()}


def frames_of(clips: dict[str, VpdqHash], name: str) -> tuple[VpdqFrame, ...]:
    return clips[name].frames


def videos_matched(results: list[MatchResult]) -> list[int]:
    return [r.indicator_id for r in results if r.signal_type == VPDQ]


@pytest.fixture
def video_bank(database: Database, clips: dict[str, VpdqHash]) -> int:
    banks.create_bank(database, "videos")
    return add_video_indicator(database, "videos", frames_of(clips, "movie"), external_id="movie")


def loaded(database: Database) -> Matcher:
    matcher = Matcher(database, use_snapshot=False)
    matcher.load()
    return matcher


def test_the_same_video_re_encoded_matches_with_vpdq_shares(
    database: Database, clips: dict[str, VpdqHash], video_bank: int
) -> None:
    matcher = loaded(database)
    for name in ("movie", "smaller", "vp9"):
        results = matcher.match_video(frames_of(clips, name))
        assert videos_matched(results) == [video_bank], name
        detail = results[0].video
        assert detail is not None and results[0].bank == "videos"
        assert detail.query_match_percent is not None and detail.query_match_percent >= 80
        assert detail.compared_match_percent is not None and detail.compared_match_percent >= 80
        assert detail.frames[0].banked_time is not None
        assert results[0].as_dict()["video"]["matched_frames"] == detail.matched_frames  # type: ignore[index]


def test_a_clip_cut_from_a_banked_video_matches_with_a_lower_compared_share(
    database: Database, clips: dict[str, VpdqHash], video_bank: int
) -> None:
    results = loaded(database).match_video(frames_of(clips, "clip"))
    assert videos_matched(results) == [video_bank]
    detail = results[0].video
    assert detail is not None and detail.query_match_percent == 100.0
    assert detail.compared_match_percent is not None and detail.compared_match_percent < 50
    # The clip's frames show the banked video's seconds 2-5.
    assert {f.banked_time for f in detail.frames} <= {2.0, 3.0, 4.0, 5.0}


def test_each_bank_s_shares_decide(
    database: Database, clips: dict[str, VpdqHash], video_bank: int
) -> None:
    banks.set_bank_thresholds(
        database, "videos", pdq_threshold=31, review_distance=None, vpdq_compared_match=90.0
    )
    matcher = loaded(database)
    assert videos_matched(matcher.match_video(frames_of(clips, "clip"))) == []
    assert videos_matched(matcher.match_video(frames_of(clips, "movie"))) == [video_bank]
    with pytest.raises(InvalidInput):
        banks.set_bank_thresholds(
            database, "videos", pdq_threshold=31, review_distance=None, vpdq_query_match=101.0
        )


def test_an_unrelated_video_matches_nothing(
    database: Database, clips: dict[str, VpdqHash], video_bank: int
) -> None:
    assert loaded(database).match_video(frames_of(clips, "unrelated")) == []


def test_a_banked_still_inside_a_video_is_found_with_its_times(
    database: Database, clips: dict[str, VpdqHash], video_bank: int
) -> None:
    banks.create_bank(database, "images")
    still = add_indicator(database, "images", "pdq", pdq_of_pixels(photo("chelsea")).hash)
    results = loaded(database).match_video(frames_of(clips, "inserted"))
    assert videos_matched(results) == []  # too small a share of the banked movie's frames
    [found] = [r for r in results if r.signal_type == "pdq"]
    assert (found.bank, found.indicator_id) == ("images", still.id)
    assert found.video is not None
    assert [f.time for f in found.video.frames] == [3.0, 4.0]


def test_an_image_showing_a_frame_of_a_banked_video_matches_it(
    database: Database, video_bank: int
) -> None:
    matcher = loaded(database)
    [result] = matcher.match_hashes("pdq", [pdq_of_pixels(photo("coffee")).hash])[0]
    assert (result.signal_type, result.indicator_id) == (VPDQ, video_bank)


def test_matchers_follow_video_changes_and_keep_them_in_snapshots(
    database: Database, clips: dict[str, VpdqHash], tmp_path: Path
) -> None:
    banks.create_bank(database, "videos")
    matcher = Matcher(database, snapshot_dir=tmp_path / "snap")
    matcher.load()
    assert matcher.match_video(frames_of(clips, "movie")) == []
    ident = add_video_indicator(database, "videos", frames_of(clips, "movie"))
    matcher.refresh()
    assert videos_matched(matcher.match_video(frames_of(clips, "movie"))) == [ident]
    matcher.save_snapshot()
    fresh = Matcher(database, snapshot_dir=tmp_path / "snap")
    fresh.load()
    assert fresh.loaded_from == "snapshot"
    assert videos_matched(fresh.match_video(frames_of(clips, "smaller"))) == [ident]
    remove_indicator(database, ident)
    fresh.refresh()
    assert fresh.match_video(frames_of(clips, "movie")) == []
    assert fresh.match_hashes("pdq", [pdq_of_pixels(photo("coffee")).hash])[0] == []


def test_both_text_forms_bank_the_same_video_once(
    database: Database, clips: dict[str, VpdqHash], tmp_path: Path
) -> None:
    banks.create_bank(database, "videos")
    frames = frames_of(clips, "movie")
    reference = tmp_path / "movie.txt"
    reference.write_text(to_reference_lines(frames))
    threatexchange = tmp_path / "movie.json"
    threatexchange.write_text(json.dumps(json.loads(to_threatexchange(frames)), indent=2))
    first = import_video_file(database, "videos", reference)
    again = import_video_file(database, "videos", threatexchange)
    assert (first.added, again.added, again.already_present) == (1, 0, 1)
    with database.reader() as session:
        row = session.query(Indicator).one()
        assert (row.value, row.external_id) == (video_key(frames), "movie")


def test_exports_carry_the_frames_and_import_back(
    database: Database, clips: dict[str, VpdqHash], tmp_path: Path
) -> None:
    banks.create_bank(database, "videos")
    add_video_indicator(database, "videos", frames_of(clips, "movie"), external_id="m1")
    add_video_indicator(database, "videos", frames_of(clips, "unrelated"), external_id="u1")
    for list_format in (ListFormat.CSV, ListFormat.JSONL, ListFormat.HMA, ListFormat.TEXT):
        path = tmp_path / f"export.{list_format.value}"
        with open(path, "w", encoding="utf-8", newline="") as out:
            assert export_indicators(database, "videos", out, list_format=list_format) == 2
        name = f"copy-{list_format.value}"
        banks.create_bank(database, name)
        report = import_video_file(database, name, path)
        assert (report.added, report.bad_count) == (2, 0), list_format
    matcher = loaded(database)
    found = {r.bank for r in matcher.match_video(frames_of(clips, "movie"))}
    assert found == {"videos", "copy-csv", "copy-jsonl", "copy-hma", "copy-text"}


def test_bad_videos_in_a_list_are_reported_by_line_and_the_good_ones_kept(
    database: Database, clips: dict[str, VpdqHash]
) -> None:
    good = to_threatexchange(frames_of(clips, "clip"))
    lines = [
        json.dumps({"signal_type": "vpdq", "value": good, "external_id": "x"}),
        json.dumps({"signal_type": "vpdq", "value": '["zz,100,0.0"]'}),
        json.dumps({"signal_type": "pdq", "value": "00" * 32}),
        "not json",
    ]
    listing = read_video_list("\n".join(lines))
    assert [bad.line for bad in listing.bad] == [2, 3, 4]
    banks.create_bank(database, "videos")
    report = import_videos(database, "videos", listing)
    assert (report.added, report.bad_count) == (1, 3)


def test_the_shares_equal_python_threatexchange_s_brute_force_matcher(
    clips: dict[str, VpdqHash], monkeypatch: pytest.MonkeyPatch
) -> None:
    # python-threatexchange's vPDQ modules import the `vpdq` extension (a C++ build) for types
    # only; its matcher is pure Python, so it runs here with a stand-in for that import.
    stand_in = types.ModuleType("vpdq")
    stand_in.VpdqFeature = object  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vpdq", stand_in)
    from threatexchange.extensions.vpdq.vpdq_brute_matcher import match_VPDQ_hash_brute
    from threatexchange.extensions.vpdq.vpdq_util import json_to_vpdq

    for query, banked in [("clip", "movie"), ("smaller", "movie"), ("inserted", "movie")]:
        theirs = match_VPDQ_hash_brute(
            json_to_vpdq(to_threatexchange(frames_of(clips, query))),
            json_to_vpdq(to_threatexchange(frames_of(clips, banked))),
            50,
            31,
        )
        ours = score(frame_set(frames_of(clips, query)), frame_set(frames_of(clips, banked)), 31)
        query_pct = ours.query_match_percent if ours else 0.0
        compared_pct = ours.compared_match_percent if ours else 0.0
        assert (query_pct, compared_pct) == pytest.approx(
            (theirs.query_match_percent, theirs.compared_match_percent)
        ), query
