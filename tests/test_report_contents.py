"""The report carries every field of Art 13 and Annex III, and says which ones it lacks."""

from __future__ import annotations

import pytest

from report_samples import NOW, PROVIDER, sample_input
from tutela.errors import IncompleteReport
from tutela.reporting.fields import ContentFile, ItemFacts, ProviderIdentity
from tutela.reporting.report import build_report, missing_fields, require_complete


def test_complete_report_lacks_nothing() -> None:
    report = build_report(sample_input(), PROVIDER, NOW)
    assert missing_fields(report) == []


def test_report_keeps_upload_port_and_time_zone() -> None:
    location = build_report(sample_input(), PROVIDER, NOW)["location"]
    assert location["upload_port"] == 50123
    assert location["time_zone"] == "+01:00"
    assert location["uploaded_at"] == "2025-02-28T21:30:00+01:00"


def test_a_report_without_the_upload_port_is_complete_and_says_it_is_not_available() -> None:
    base = sample_input().item
    without_port = ItemFacts(
        **{**{f: getattr(base, f) for f in base.__slots__}, "upload_port": None}
    )
    report = build_report(sample_input(item=without_port), PROVIDER, NOW)
    assert missing_fields(report) == []  # Art 13(1)(f): location data "where available"
    assert "upload_port" not in report["location"]
    assert report["location"]["unavailable"] == ["upload_port"]


def test_a_report_with_every_location_field_lists_none_unavailable() -> None:
    assert "unavailable" not in build_report(sample_input(), PROVIDER, NOW)["location"]


def test_incomplete_report_lists_every_missing_field_by_article() -> None:
    bare = sample_input(item=ItemFacts(item_ref="upload-1"), removed=None, legal_basis="")
    provider = ProviderIdentity("Example Hosting BV", "", "", "NL")
    missing = [str(m) for m in missing_fields(build_report(bare, provider, NOW))]
    assert missing == [
        "provider.legal_representative (Art 13(1)(a))",
        "provider.point_of_contact (Art 13(1)(a))",
        "location.upload_ip (Art 13(1)(f))",
        "location.uploaded_at (Art 13(1)(f))",
        "location.time_zone (Art 13(1)(f))",
        "users (Art 13(1)(g))",
        "removal.removed (Art 13(1)(i))",
        "legal_basis (Art 13(1)(k))",
    ]


def test_require_complete_raises_with_the_missing_fields() -> None:
    report = build_report(sample_input(legal_basis=""), PROVIDER, NOW)
    with pytest.raises(IncompleteReport) as caught:
        require_complete(report)
    assert caught.value.missing == ("legal_basis (Art 13(1)(k))",)


def test_same_case_gives_the_same_report_id() -> None:
    first = build_report(sample_input(case_id=3), PROVIDER, NOW)
    again = build_report(sample_input(case_id=3), PROVIDER, NOW)
    other = build_report(sample_input(case_id=4), PROVIDER, NOW)
    assert first["report_id"] == again["report_id"] != other["report_id"]


def test_content_travels_only_when_given() -> None:
    plain = build_report(sample_input(), PROVIDER, NOW)
    with_content = build_report(
        sample_input(content=(ContentFile("image/png", b"drawn test card"),)), PROVIDER, NOW
    )
    assert plain["content"]["files"] == []
    assert with_content["content"]["files"][0]["media_type"] == "image/png"
