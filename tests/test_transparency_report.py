"""`tutela transparency report` on a provider node seeded with known decisions: the counts and
error rates the test works out on its own, the same in JSON, CSV and HTML, and no personal data
in any of them."""

from __future__ import annotations

import csv
import html
import io
import json
import math
import re
import warnings
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import select

from provider_fixtures import make_key
from transparency_seed import (
    CASES,
    COMPLAINTS,
    IN_YEAR,
    ORDER_ITEM_HOURS,
    PERSONAL,
    TAKEDOWNS_CONFIRMED,
    YEAR,
    seed_node,
)
from tutela.api.transparency_metrics import TransparencyCollector
from tutela.audit.models import AuditEntry
from tutela.cli import main
from tutela.clock import FixedClock
from tutela.db import Database, open_database
from tutela.errors import Forbidden
from tutela.nodes.provider import create_app
from tutela.settings import Settings
from tutela.transparency.reports import yearly_figures

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

Z = 1.959963984540054


def band(distance: int) -> str:
    """The bands as the issue names them: 0, 1-10, 11-20, 21-31."""
    if distance == 0:
        return "0"
    return "1-10" if distance <= 10 else "11-20" if distance <= 20 else "21-31"


def wilson(x: int, n: int) -> tuple[float, float]:
    """Written independently of the code: Agresti and Coull's form of the Wilson interval."""
    p = x / n
    middle = (x + Z * Z / 2) / (n + Z * Z)
    half = Z * math.sqrt(n) / (n + Z * Z) * math.sqrt(p * (1 - p) + Z * Z / (4 * n))
    return max(0.0, middle - half), min(1.0, middle + half)


def expected_error_rates() -> dict[tuple[str, str, str], dict[str, Any]]:
    counts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for case in CASES:
        if case.decided_at.year != YEAR:
            continue
        key = (case.bank, case.signal_type, band(case.distance))
        counts[key][1] += 1
        counts[key][0] += case.final in ("dismissed", "reversed")
    out = {}
    for key, (wrong, of) in counts.items():
        low, high = wilson(wrong, of)
        out[key] = {"count": wrong, "of": of, "rate": wrong / of, "low": low, "high": high}
    return out


@pytest.fixture
def seeded(settings: Settings) -> Settings:
    database = open_database(settings)
    try:
        seed_node(database)
    finally:
        database.close()
    return settings


def report(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main(["transparency", "report", "--year", str(YEAR), *args])
    out, err = capsys.readouterr()
    assert exited.value.code in (0, None), err
    return out


def from_csv(text: str) -> dict[str, str]:
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["figure", "value"]
    return {name: value for name, value in rows[1:]}


def from_html(text: str) -> dict[str, str]:
    pattern = r'<tr data-figure="([^"]*)"><th scope="row">[^<]*</th><td>([^<]*)</td></tr>'
    return {html.unescape(k): html.unescape(v) for k, v in re.findall(pattern, text)}


def rate_name(bank: str, signal_type: str, band_label: str, field: str) -> str:
    element = f"bank={bank};signal_type={signal_type};distance_band={band_label}"
    return f"error_rates[{element}].judged_not_abuse.{field}"


def test_error_rates_are_the_share_of_reviewed_matches_judged_not_abuse_per_bank_signal_and_band(
    seeded: Settings, cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    figures = json.loads(report(capsys, "--format", "json"))
    found = {
        (r["bank"], r["signal_type"], r["distance_band"]): r["judged_not_abuse"]
        for r in figures["error_rates"]
    }
    expected = expected_error_rates()
    assert set(found) == set(expected)
    for key, want in expected.items():
        got = found[key]
        assert (got["count"], got["of"]) == (want["count"], want["of"]), key
        assert got["rate"] == pytest.approx(want["rate"], abs=1e-6)
        assert got["ci95_low"] == pytest.approx(want["low"], abs=1e-6)
        assert got["ci95_high"] == pytest.approx(want["high"], abs=1e-6)


def test_csv_and_html_carry_the_same_counts_and_rates_as_json(
    seeded: Settings, cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    in_csv = from_csv(report(capsys, "--format", "csv"))
    in_html = from_html(report(capsys, "--format", "html"))
    for (bank, signal_type, band_label), want in expected_error_rates().items():
        for form in (in_csv, in_html):
            assert form[rate_name(bank, signal_type, band_label, "count")] == str(want["count"])
            assert form[rate_name(bank, signal_type, band_label, "of")] == str(want["of"])
            rate = float(form[rate_name(bank, signal_type, band_label, "rate")])
            assert rate == pytest.approx(want["rate"], abs=1e-6)
            low = float(form[rate_name(bank, signal_type, band_label, "ci95_low")])
            assert low == pytest.approx(want["low"], abs=1e-6)
    assert in_csv == in_html
    assert in_csv["decisions.reversed_on_complaint.count"] == "2"


def test_decisions_count_final_decisions_of_the_year_and_the_share_reversed_on_complaint(
    seeded: Settings, cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    in_year = [c for c in CASES if c.decided_at.year == YEAR]
    confirmed = sum(c.final in ("confirmed", "reversed") for c in in_year)
    reversed_ = sum(c.final == "reversed" for c in in_year)
    decisions = json.loads(report(capsys))["decisions"]
    assert decisions["decided"] == len(in_year)
    assert decisions["confirmed"] == confirmed
    assert decisions["dismissed"] == sum(c.final == "dismissed" for c in in_year)
    share = decisions["reversed_on_complaint"]
    assert (share["count"], share["of"]) == (reversed_, confirmed)
    assert share["ci95_high"] == pytest.approx(wilson(reversed_, confirmed)[1], abs=1e-6)


def test_complaints_orders_and_removals_are_counted_with_their_times(
    seeded: Settings, cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    figures = json.loads(report(capsys))
    complaints = figures["complaints"]
    hours = [h for _, h, _ in COMPLAINTS if h is not None]
    assert (complaints["received"], complaints["upheld"], complaints["rejected"]) == (3, 1, 1)
    assert complaints["open"] == 1
    assert complaints["hours_to_decide"]["mean"] == pytest.approx(sum(hours) / len(hours))
    orders = figures["removal_orders"]
    assert (orders["received"], orders["items_removed_or_disabled"]) == (1, len(ORDER_ITEM_HOURS))
    assert orders["hours_to_remove"]["mean"] == pytest.approx(
        sum(ORDER_ITEM_HOURS) / len(ORDER_ITEM_HOURS)
    )
    assert figures["blocking_orders"]["received"] == 1
    assert figures["removed_by_source"] == {
        "own_detection": TAKEDOWNS_CONFIRMED,
        "removal_order": len(ORDER_ITEM_HOURS),
    }


@pytest.mark.parametrize("form", ["json", "csv", "html"])
def test_no_personal_data_or_item_reference_appears_in_the_report(
    form: str, seeded: Settings, cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    document = report(capsys, "--format", form)
    assert document.strip()
    assert [p for p in PERSONAL if p in document] == []


def test_a_year_without_decisions_reports_zeros_and_no_rates(
    database: Database,
) -> None:
    figures = yearly_figures(database, 2019, actor="cli:test")
    assert figures["error_rates"] == []
    assert figures["decisions"]["reversed_on_complaint"]["rate"] is None


def test_making_a_report_is_audited_and_a_reviewer_may_not_read_the_figures(
    seeded: Settings,
) -> None:
    database = open_database(seeded)
    try:
        yearly_figures(database, YEAR, actor="user:9", roles=["auditor"])
        with pytest.raises(Forbidden):
            yearly_figures(database, YEAR, actor="user:8", roles=["reviewer"])
        with database.reader() as session:
            entries = session.scalars(
                select(AuditEntry).where(AuditEntry.subject_type == "transparency_report")
            ).all()
    finally:
        database.close()
    assert [(e.actor, e.action, e.subject_id) for e in entries] == [("user:9", "export", str(YEAR))]


def test_metrics_show_this_years_error_rates_and_reversal_rate(seeded: Settings) -> None:
    database = open_database(seeded)
    try:
        families = {
            m.name: m for m in TransparencyCollector(database, FixedClock(IN_YEAR)).collect()
        }
    finally:
        database.close()
    want = expected_error_rates()[("ncmec", "pdq", "11-20")]
    rates = {tuple(s.labels.values()): s.value for s in families["tutela_error_rate"].samples}
    assert rates[("ncmec", "pdq", "11-20")] == pytest.approx(want["rate"], abs=1e-6)
    in_year = [c for c in CASES if c.decided_at.year == YEAR]
    reversal = sum(c.final == "reversed" for c in in_year) / sum(
        c.final in ("confirmed", "reversed") for c in in_year
    )
    assert families["tutela_reversal_rate"].samples[0].value == pytest.approx(reversal, abs=1e-6)


def test_the_metrics_endpoint_carries_the_figures_gauges(seeded: Settings) -> None:
    database = open_database(seeded)
    try:
        key = make_key(database, "prometheus", ("metrics",))
        with TestClient(create_app(seeded, database=database)) as client:
            text = client.get("/metrics", headers={"Authorization": f"Bearer {key}"}).text
    finally:
        database.close()
    assert 'tutela_complaints{outcome="upheld"}' in text
    assert "# TYPE tutela_error_rate gauge" in text
