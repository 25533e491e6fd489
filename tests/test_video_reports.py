"""Reports about a video carry its vPDQ: the file's frame hashes among the content's hashes, and
each video match with its shares and its matched frames (time, PDQ, distance); the CyberTipline
report, which has no field for vPDQ, says the same in its additional info."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from report_samples import NOW, PROVIDER
from tutela.db.database import Database
from tutela.detection.models import Item
from tutela.indicators import banks
from tutela.indicators.ledger import add_indicator
from tutela.indicators.matcher import Matcher
from tutela.indicators.video_banks import add_video_indicator
from tutela.reporting.fields import Awareness, Kind
from tutela.reporting.report import build_report
from tutela.reporting.transports.ncmec_xml import report_xml
from tutela.review.report_choices import ReportChoices
from tutela.review.report_input import report_input
from tutela.signals.hashing import hash_video_file
from tutela.signals.pdq import pdq_of_pixels
from tutela.signals.vpdq import parse_vpdq, vpdq_of_file
from video_scenes import photo, shot, slideshow_frames, video

MOVIE = slideshow_frames(
    ["astronaut", "coffee", "chelsea", "immunohistochemistry", "hubble_deep_field"]
)


def test_a_report_on_a_video_carries_its_vpdq_and_the_matched_frames(
    database: Database, tmp_path: Path
) -> None:
    banks.create_bank(database, "videos")
    banks.create_bank(database, "images")
    banked = add_video_indicator(
        database, "videos", vpdq_of_file(video(tmp_path / "banked.mp4", MOVIE)).frames
    )
    add_indicator(database, "images", "pdq", pdq_of_pixels(photo("rocket")).hash)
    upload = video(tmp_path / "upload.mp4", MOVIE + shot("rocket", 2))
    hashed = hash_video_file(str(upload))
    assert hashed.vpdq is not None
    matcher = Matcher(database)
    matcher.load()
    matches = matcher.match_video(hashed.vpdq.frames, include_review=True)
    evidence = [
        {
            "bank": m.bank,
            "indicator_id": m.indicator_id,
            "signal_type": m.signal_type,
            "distance": m.distance,
            "variant": m.variant,
            "outcome": "review",
            **({"video": m.video.as_dict()} if m.video is not None else {}),
        }
        for m in matches
    ]
    item = Item(id=3, item_ref="clip-3", signals=hashed.signals_dict(), meta={})
    source = report_input(
        case_id=3,
        item=item,
        evidence=evidence,
        kind=Kind.KNOWN,
        decided_by="rita",
        decided_at=NOW,
        legal_basis="Art 12(1)",
        content=None,
        choices=ReportChoices(),
        awareness=Awareness.OWN_INITIATIVE,
        reported_elsewhere=(),
        removed_at=None,
    )
    report = build_report(source, PROVIDER, NOW)

    hashes = {h["signal_type"]: h["value"] for h in report["content"]["hashes"]}
    # The whole vPDQ, in threatexchange's form (which numbers no frames).
    exchanged = [(f.hash, f.quality, f.timestamp) for f in parse_vpdq(hashes["vpdq"])]
    assert exchanged == [(f.hash, f.quality, f.timestamp) for f in hashed.vpdq.frames]
    assert hashes["sha256"] == hashed.sha256
    by_kind = {m["signal_type"]: m for m in report["matches"]}
    whole = by_kind["vpdq"]
    assert whole["indicator_id"] == banked
    assert whole["video"]["query_match_percent"] >= 60
    shown = {f.timestamp: f.hash for f in hashed.vpdq.frames}
    assert all(f["pdq"] == shown[f["time"]] for f in whole["video"]["frames"])
    still = by_kind["pdq"]  # the banked photo, shown in the video from 10 s to 12 s
    assert [f["time"] for f in still["video"]["frames"]] == [10.0, 11.0]
    assert still["value"] == still["video"]["frames"][0]["pdq"]

    info = ET.fromstring(report_xml(report)).findtext("additionalInfo") or ""
    lines = [line for line in info.splitlines() if line.startswith("Video match")]
    assert len(lines) == 2
    assert f"indicator {banked}" in lines[0] and "% of the file's frames" in lines[0]
    assert f"10.0 s PDQ {still['value']}" in lines[1]
