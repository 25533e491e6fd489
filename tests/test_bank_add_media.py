"""`tutela bank add-media` and indicator variants (issue 16): a banked image's crops match it,
named by the variant; an unrelated image does not; the variants survive the snapshot, exports and
the centre's feed (an older subscriber that knows no variants still reads it)."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from password_hashing import cheap_argon2  # noqa: F401  (fixture)
from tutela.cli import main
from tutela.db import Database
from tutela.errors import InvalidInput
from tutela.indicators.banks import create_bank
from tutela.indicators.exports import export_indicators
from tutela.indicators.feed_subscription import FeedPage, follow_feed, subscribe_bank
from tutela.indicators.imports import import_indicators
from tutela.indicators.list_formats import ListFormat
from tutela.indicators.matcher import Matcher
from tutela.indicators.media_banks import add_media
from tutela.indicators.variants import check_variants
from tutela.media.limits import MediaLimits
from tutela.messaging.canonical import canonical_json
from tutela.messaging.signing import generate_key_file
from tutela.settings import Settings
from tutela.signals.hashing import hash_file
from tutela.signals.media_indicator import media_indicator
from tutela.signals.pdq import PdqMode

NOW = datetime.fromisoformat("2026-12-03T12:00:00+00:00")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, _ = capsys.readouterr()
    return int(exited.value.code or 0), out


def astronaut() -> Image.Image:
    return Image.fromarray(skdata.astronaut())  # type: ignore[no-untyped-call]  # unannotated


def cropped(image: Image.Image, percent: int, path: Path) -> Path:
    """`percent` of each side cut at the top and left (the copy keeps the bottom-right)."""
    dw, dh = round(image.width * percent / 100), round(image.height * percent / 100)
    image.crop((dw, dh, image.width, image.height)).save(path, "JPEG", quality=90)
    return path


def query_pdq(path: Path) -> str:
    pdq = hash_file(str(path), mode=PdqMode.EXACT).pdq
    assert pdq is not None
    return pdq.hash


def hamming(a: str, b: str) -> int:
    return int(bin(int(a, 16) ^ int(b, 16)).count("1"))


@pytest.fixture
def banked(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The astronaut photo (to bank), a copy with 10 % cut off two sides, an unrelated photo."""
    original = tmp_path / "original.png"
    astronaut().save(original)
    crop = cropped(astronaut(), 10, tmp_path / "crop.jpg")
    other = tmp_path / "other.jpg"
    Image.fromarray(skdata.coffee()).save(other, "JPEG", quality=90)  # type: ignore[no-untyped-call]
    return original, crop, other


def test_a_crop_of_a_banked_image_matches_it_by_a_crop_variant_and_nothing_else_does(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], banked: tuple[Path, Path, Path]
) -> None:
    original, crop, other = banked
    # Plain PDQ does not survive the crop: only a variant can find it.
    assert hamming(query_pdq(crop), query_pdq(original)) > 31
    run(capsys, "bank", "create", "known")
    code, out = run(capsys, "bank", "add-media", "known", str(original), "--json", "-j", "1")
    assert code == 0
    file_line, summary = (json.loads(line) for line in out.splitlines())
    assert file_line["signals"]["pdq"]["hash"] == query_pdq(original)
    assert file_line["variants"] == 14
    assert summary == {
        "bank": "known",
        "images": 1,
        "added": 3,
        "already_present": 0,
        "variants": 14,
        "failed": 0,
    }
    code, out = run(capsys, "match", str(crop), "--json", "-j", "1")
    assert code == 0
    (match,) = json.loads(out)["matches"]
    assert match["bank"] == "known" and match["signal_type"] == "pdq"
    assert match["variant"] == "crop91-br" and match["distance"] <= 31
    code, out = run(capsys, "match", str(other), "--json", "-j", "1")
    assert code == 0 and json.loads(out)["matches"] == []
    # The same image banked again adds nothing; the audit log has both, by count only.
    code, out = run(capsys, "bank", "add-media", "known", str(original), "--json")
    assert json.loads(out.splitlines()[-1])["already_present"] == 3


def test_add_media_reports_a_file_that_is_no_image_and_banks_the_others(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], banked: tuple[Path, Path, Path]
) -> None:
    original, _, _ = banked
    broken = original.with_name("broken.png")
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    run(capsys, "bank", "create", "known")
    code, out = run(
        capsys, "bank", "add-media", "known", str(original), str(broken), "--json", "-j", "1"
    )
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert [line["error"]["code"] for line in lines if "error" in line] == ["corrupt"]
    assert lines[-1]["images"] == 1 and lines[-1]["failed"] == 1


def bank_image(database: Database, path: Path, bank: str = "known") -> str:
    create_bank(database, bank)
    image = media_indicator(str(path), limits=MediaLimits())
    add_media(database, bank, [image])
    assert image.pdq is not None
    return image.pdq


def crop_matches(matcher: Matcher, crop: Path) -> list[Any]:
    pdq = hash_file(str(crop), mode=PdqMode.EXACT, dihedral=True).pdq
    assert pdq is not None
    return matcher.match_pdq(pdq) or []


def test_variants_come_back_from_the_snapshot_and_go_with_their_indicator(
    database: Database, banked: tuple[Path, Path, Path]
) -> None:
    original, crop, _ = banked
    bank_image(database, original)
    first = Matcher(database)
    first.load()
    first.save_snapshot()
    again = Matcher(database)
    again.load()
    assert again.loaded_from == "snapshot"
    (match,) = crop_matches(again, crop)
    assert match.variant.startswith("crop")
    assert [m.variant for m in crop_matches(first, crop)] == [match.variant]
    # Removing the indicator takes its variants' codes out of the index too.
    from tutela.indicators.ledger import remove_indicator

    remove_indicator(database, match.indicator_id)
    again.refresh()
    assert crop_matches(again, crop) == []


def test_a_running_matcher_takes_variants_given_to_a_banked_hash(
    database: Database, banked: tuple[Path, Path, Path]
) -> None:
    from tutela.indicators.ledger import add_indicator

    original, crop, _ = banked
    image = media_indicator(str(original), limits=MediaLimits())
    assert image.pdq is not None
    create_bank(database, "known")
    add_indicator(database, "known", "pdq", image.pdq)  # the bare hash, from a list
    matcher = Matcher(database, use_snapshot=False)
    matcher.load()
    assert crop_matches(matcher, crop) == []
    banked_again = add_media(database, "known", [image])  # the image itself, later
    assert (banked_again.added, banked_again.variants) == (2, 14)
    matcher.refresh()
    (match,) = crop_matches(matcher, crop)
    assert match.variant == "crop91-br"


def test_a_json_lines_export_carries_the_variants_into_another_bank(
    database: Database, banked: tuple[Path, Path, Path]
) -> None:
    original, crop, _ = banked
    bank_image(database, original)
    out = io.StringIO()
    export_indicators(database, "known", out, list_format=ListFormat.JSONL)
    (pdq_line,) = [json.loads(x) for x in out.getvalue().splitlines() if '"pdq"' in x]
    assert len(pdq_line["variants"]) == 14
    create_bank(database, "copy")
    import_indicators(database, "copy", out.getvalue().splitlines(), list_format=ListFormat.JSONL)
    matcher = Matcher(database, use_snapshot=False)
    matcher.load()
    assert {m.bank for m in crop_matches(matcher, crop)} == {"known", "copy"}


def test_variants_are_few_well_named_pdq_hashes() -> None:
    good = "f" * 64
    assert check_variants([["crop95-c", good.upper()]]) == (("crop95-c", good),)
    for bad in (
        [["Crop", good]],
        [["a", "xyz"]],
        [["a", good], ["a", good]],
        [[f"v{n}", good] for n in range(17)],
    ):
        with pytest.raises(InvalidInput):
            check_variants(bad)


class CentreFeed:
    """The centre's own feed pages (tutela.centre.indicators.feed_page) over one database,
    signed as the centre's API signs them; `strip` drops the variants, as an older centre."""

    def __init__(self, database: Database, key: Any) -> None:
        self.database, self.key = database, key

    def fetch(self, url: str, since: int, limit: int, now: datetime) -> FeedPage:
        from tutela.centre.indicators import feed_page

        with self.database.reader() as session:
            body = canonical_json(feed_page(session, since, limit))
        return FeedPage(body, self.key.key_id, self.key.sign(body))


def test_the_centres_feed_carries_variants_to_a_provider_whose_matcher_names_them(
    database: Database, banked: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    original, crop, _ = banked
    image = media_indicator(str(original), limits=MediaLimits())
    assert image.pdq is not None
    centre_key = generate_key_file(tmp_path / "centre.pem")
    report_id = centre_report(database, tmp_path, image.pdq)
    from tutela.centre.indicators import confirm_indicator, feed_page

    with database.unit_of_work() as session:
        confirm_indicator(
            session,
            report_id,
            "analyst",
            NOW,
            authority_confirmation="BKA-1",
            variants={image.pdq: image.variants},
        )
    with database.reader() as session:
        (item,) = feed_page(session, 0, 10)["items"]
    assert item["value"] == image.pdq and len(item["variants"]) == 14
    subscribe_bank(database, "eu-centre", "https://centre.example", centre_key.public_key_pem())
    report = follow_feed(database, "eu-centre", CentreFeed(database, centre_key), NOW)
    assert report.added == 1
    matcher = Matcher(database, use_snapshot=False)
    matcher.load()
    (match,) = crop_matches(matcher, crop)
    assert match.bank == "eu-centre" and match.variant.startswith("crop")


@pytest.mark.usefixtures("cheap_argon2")
def test_centre_indicator_confirm_with_media_publishes_the_images_crops(
    cli_env: Settings,
    database: Database,
    capsys: pytest.CaptureFixture[str],
    banked: tuple[Path, Path, Path],
    tmp_path: Path,
) -> None:
    from tutela.auth.users import create_user
    from tutela.centre.indicators import feed_page

    original, _, other = banked
    image = media_indicator(str(original), limits=MediaLimits())
    assert image.pdq is not None
    create_user(database, "sena", "correct horse battery", ["senior_analyst"], actor="test")
    report_id = centre_report(database, tmp_path, image.pdq)
    confirm = ["centre", "indicator", "confirm", str(report_id), "--analyst", "sena"]
    code, _ = run(capsys, *confirm, "--authority", "BKA-1", "--media", str(other))
    assert code == 1  # not an image the report carries: nothing published
    code, _ = run(capsys, *confirm, "--authority", "BKA-1", "--media", str(original), "--json")
    assert code == 0
    with database.reader() as session:
        (item,) = feed_page(session, 0, 10)["items"]
    assert item["value"] == image.pdq
    assert item["variants"] == [{"name": n, "value": v} for n, v in image.variants]


def test_the_centre_refuses_variants_of_an_image_the_report_does_not_carry(
    database: Database, banked: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    from tutela.centre.indicators import confirm_indicator

    original, _, other = banked
    image = media_indicator(str(original), limits=MediaLimits())
    unrelated = media_indicator(str(other), limits=MediaLimits())
    assert image.pdq is not None and unrelated.pdq is not None
    report_id = centre_report(database, tmp_path, image.pdq)
    with pytest.raises(InvalidInput), database.unit_of_work() as session:
        confirm_indicator(
            session,
            report_id,
            "analyst",
            NOW,
            authority_confirmation="BKA-1",
            variants={unrelated.pdq: unrelated.variants},
        )


# The last commit before indicator variants: its feed subscriber is an "older provider".
BEFORE_VARIANTS = "b6e74d4"


def older_feed_subscription() -> Any:
    """tutela.indicators.feed_subscription as it was before variants, loaded from git."""
    import subprocess
    import types

    repo = Path(__file__).resolve().parents[1]
    try:
        source = subprocess.run(
            ["git", "show", f"{BEFORE_VARIANTS}:src/tutela/indicators/feed_subscription.py"],
            cwd=repo,
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("the older subscriber's source is not at hand (no git history)")
    assert "variants" not in source
    import sys

    module = types.ModuleType("older_feed_subscription")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    try:
        exec(compile(source, "older_feed_subscription.py", "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    return module


def test_an_older_subscriber_reads_a_feed_with_variants_as_plain_indicators(
    database: Database, banked: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    from tutela.centre.indicators import confirm_indicator

    older = older_feed_subscription()
    original, crop, _ = banked
    image = media_indicator(str(original), limits=MediaLimits())
    assert image.pdq is not None
    centre_key = generate_key_file(tmp_path / "centre.pem")
    report_id = centre_report(database, tmp_path, image.pdq)
    with database.unit_of_work() as session:
        confirm_indicator(
            session,
            report_id,
            "analyst",
            NOW,
            authority_confirmation="BKA-1",
            variants={image.pdq: image.variants},
        )
    older.subscribe_bank(
        database, "eu-centre", "https://centre.example", centre_key.public_key_pem()
    )
    report = older.follow_feed(database, "eu-centre", CentreFeed(database, centre_key), NOW)
    assert report.added == 1
    matcher = Matcher(database, use_snapshot=False)
    matcher.load()
    pdq = hash_file(str(original), mode=PdqMode.EXACT).pdq
    assert pdq is not None
    assert [m.bank for m in matcher.match_pdq(pdq) or []] == ["eu-centre"]
    assert crop_matches(matcher, crop) == []  # the older provider has no variants


def centre_report(database: Database, tmp_path: Path, pdq: str) -> int:
    """A report at the centre carrying `pdq`, from a registered provider."""
    import dataclasses

    from report_samples import NOW as SAMPLE_NOW
    from report_samples import PROVIDER, sample_input
    from tutela.centre.intake import receive_report
    from tutela.centre.providers import register_provider
    from tutela.messaging.signing import sign_report
    from tutela.reporting.fields import MatchFacts
    from tutela.reporting.report import build_report

    key = generate_key_file(tmp_path / "provider.pem")
    with database.unit_of_work() as session:
        register_provider(session, PROVIDER.name, key.public_key_pem(), SAMPLE_NOW)
    base = sample_input(case_id=1)
    facts = dataclasses.replace(
        base, signals={"pdq": pdq}, matches=(MatchFacts("test-bank", 1, "pdq", pdq, 0),)
    )
    signed = sign_report(build_report(facts, PROVIDER, SAMPLE_NOW), key, SAMPLE_NOW)
    return receive_report(database, key.key_id, signed.body, signed.signature, "k-1", SAMPLE_NOW).id


_ = np  # numpy is imported for skimage's arrays' sake


def test_confirming_a_published_indicator_with_its_image_sends_the_new_variants_to_subscribers(
    database: Database, banked: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    from tutela.centre.indicators import Confirmed, confirm_indicator, feed_page

    older = older_feed_subscription()
    original, crop, _ = banked
    image = media_indicator(str(original), limits=MediaLimits())
    assert image.pdq is not None
    centre_key = generate_key_file(tmp_path / "centre.pem")
    report_id = centre_report(database, tmp_path, image.pdq)

    def confirm(variants: dict[str, Any] | None) -> Confirmed:
        with database.unit_of_work() as session:
            return confirm_indicator(
                session,
                report_id,
                "analyst",
                NOW,
                authority_confirmation="BKA-1",
                variants=variants,
            )

    def pdq_entries() -> list[dict[str, Any]]:
        with database.reader() as session:
            items = feed_page(session, 0, 100)["items"]
        return [item for item in items if item["signal_type"] == "pdq"]

    def follow() -> None:
        feed = CentreFeed(database, centre_key)
        follow_feed(database, "eu-centre", feed, NOW)
        older.follow_feed(database, "older", feed, NOW)

    # Published first without the image: subscribers bank the PDQ, crops of it do not match.
    assert confirm(None).updated_ids == ()
    pem = centre_key.public_key_pem()
    subscribe_bank(database, "eu-centre", "https://centre.example", pem)
    older.subscribe_bank(database, "older", "https://centre.example", pem)
    follow()
    matcher = Matcher(database, use_snapshot=False)
    matcher.load()
    assert crop_matches(matcher, crop) == []
    (entry,) = pdq_entries()
    assert "variants" not in entry
    # Confirmed again with the image: its crops go out as the indicator's variants.
    again = confirm({image.pdq: image.variants})
    first_seq = entry["seq"]
    assert again.updated_ids == (entry["generation"]["indicator_id"],)
    entries = pdq_entries()
    assert [e["op"] for e in entries] == ["add", "add"] and entries[-1]["seq"] > first_seq
    assert entries[-1]["variants"] == [{"name": n, "value": v} for n, v in image.variants]
    assert entries[-1]["generation"] == entry["generation"]  # the first record stands
    follow()
    matcher = Matcher(database, use_snapshot=False)
    matcher.load()
    (match,) = crop_matches(matcher, crop)  # the older subscriber still holds no variants
    assert match.bank == "eu-centre" and match.variant.startswith("crop")
    pdq = hash_file(str(original), mode=PdqMode.EXACT).pdq
    assert pdq is not None
    assert {m.bank for m in matcher.match_pdq(pdq) or []} == {"eu-centre", "older"}
    # The same set again changes nothing and sends nothing.
    assert confirm({image.pdq: image.variants}).updated_ids == ()
    assert len(pdq_entries()) == 2
