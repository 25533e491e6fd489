"""`tutela transparency report --centre`: the centre's yearly figures (Art 83(3)) on a centre
seeded with known reports, assessments, indicators and victims' requests: reports by provider,
Member State and kind, unfounded, duplicates, forwarded, indicators and victims helped."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from report_samples import NOW, PROVIDER, sample_input
from tutela.centre.indicators import confirm_indicator
from tutela.centre.intake import receive_report
from tutela.centre.providers import register_provider
from tutela.centre.triage import forward_report, mark_unfounded, set_routing_rule
from tutela.centre.victim_models import VictimRequester
from tutela.centre.victims import answer_victim_request
from tutela.cli import main
from tutela.db import Database
from tutela.messaging.messages import sign_message
from tutela.messaging.signing import SigningKey, generate_key_file, sign_report
from tutela.reporting.fields import Kind, MatchFacts, ProviderIdentity
from tutela.reporting.report import build_report
from tutela.settings import Settings

OTHER = ProviderIdentity("Other Video Ltd", "Other Rep", "abuse@other.example", "IE")
PDQ_1 = "f" * 16 + "0" * 48
PDQ_1_NEAR = "fe" + "f" * 14 + "0" * 46 + "03"  # seven bits away: the same picture
PDQ_2 = "0f" * 32
PDQ_3 = "a5" * 32
PDQ_ELSEWHERE = "5a" * 32
# (provider, pdq, kind, Member State, received): the reports the test seeds.
ReportSpec = tuple[str, str, Kind, str, datetime]
REPORTS: tuple[ReportSpec, ...] = (
    ("a", PDQ_1, Kind.KNOWN, "DE", NOW),
    ("a", PDQ_1_NEAR, Kind.KNOWN, "DE", NOW + timedelta(hours=1)),  # a duplicate
    ("a", PDQ_2, Kind.NEW, "FR", NOW + timedelta(hours=2)),
    ("b", PDQ_3, Kind.SOLICITATION, "DE", NOW + timedelta(hours=3)),
    ("b", PDQ_ELSEWHERE, Kind.KNOWN, "DE", NOW.replace(year=2024)),  # another year
)


def report(
    database: Database, key: SigningKey, identity: ProviderIdentity, n: int, spec: ReportSpec
) -> int:
    _, pdq, kind, country, at = spec
    base = sample_input(case_id=n)
    facts = dataclasses.replace(
        base,
        item=dataclasses.replace(base.item, geo={"country": country}),
        kind=kind,
        signals={"pdq": pdq},
        matches=(MatchFacts("test-bank", 1, "pdq", pdq, 0),),
    )
    signed = sign_report(build_report(facts, identity, at), key, at)
    return receive_report(database, key.key_id, signed.body, signed.signature, f"k-{n}", at).id


@pytest.fixture
def seeded(database: Database, tmp_path: Path) -> Database:
    keys = {}
    with database.unit_of_work() as session:
        for name, identity in (("a", PROVIDER), ("b", OTHER)):
            keys[name] = (generate_key_file(tmp_path / f"{name}.pem"), identity)
            register_provider(session, identity.name, keys[name][0].public_key_pem(), NOW)
        set_routing_rule(session, "DE", "bka", NOW)
    ids = [report(database, *keys[spec[0]], n, spec) for n, spec in enumerate(REPORTS)]
    later = NOW + timedelta(days=1)
    with database.unit_of_work() as session:
        forward_report(session, ids[0], later)  # Europol and the German LEA
        forward_report(session, ids[2], later)  # Europol alone: no rule for France
        mark_unfounded(session, ids[3], "not what the regulation covers", later)
        confirm_indicator(session, ids[0], "senior-sam", later, authority_confirmation="BKA-1")
    hotline = generate_key_file(tmp_path / "hotline.pem")
    with database.unit_of_work() as session:
        session.add(
            VictimRequester(
                name="Example Hotline",
                kind="hotline",
                public_key_pem=hotline.public_key_pem(),
                key_id=hotline.key_id,
                created_at=NOW,
            )
        )
    for n, pdq in enumerate((PDQ_1_NEAR, PDQ_ELSEWHERE.replace("5a", "77", 8))):
        message = sign_message(
            hotline,
            "victim_request",
            f"v-{n}",
            {"hashes": [{"signal_type": "pdq", "value": pdq}]},
            later,
        )
        answer_victim_request(
            database, hotline.key_id, message.body, message.signature, f"v-{n}", later
        )
    return database


def centre_report(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    with pytest.raises(SystemExit) as exited:
        main(["transparency", "report", "--year", str(NOW.year), "--centre"])
    out, err = capsys.readouterr()
    assert exited.value.code in (0, None), err
    report: dict[str, Any] = json.loads(out)
    return report


def test_centre_figures_count_reports_by_provider_member_state_and_kind(
    seeded: Database, cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    in_year = [r for r in REPORTS if r[4].year == NOW.year]
    reports = centre_report(capsys)["reports"]
    assert reports["received"] == len(in_year)
    assert reports["by_provider"] == {
        PROVIDER.name: sum(r[0] == "a" for r in in_year),
        OTHER.name: sum(r[0] == "b" for r in in_year),
    }
    assert reports["by_member_state"] == {"DE": 3, "FR": 1}
    assert reports["by_kind"] == {"known": 2, "new": 1, "solicitation": 1}


def test_centre_figures_count_assessments_duplicates_forwardings_and_indicators(
    seeded: Database, cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    figures = centre_report(capsys)
    reports = figures["reports"]
    assert (reports["forwarded"], reports["unfounded"], reports["duplicates"]) == (2, 1, 1)
    assert reports["awaiting_assessment"] == 1
    assert figures["forwardings"] == {"europol": 2, "law_enforcement": 1}
    assert figures["indicators"]["added_by_signal_type"] == {"pdq": 1}


def test_centre_figures_count_victims_helped(
    seeded: Database, cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert centre_report(capsys)["victims"] == {
        "requests": 2,
        "helped": 1,
        "removal_requests_to_providers": 0,
    }


def test_centre_figures_hold_no_personal_data(
    seeded: Database, cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    text = json.dumps(centre_report(capsys))
    personal = ("account-42", "placeholder_user", "user@example.net", "192.0.2.10", "senior-sam")
    assert [p for p in personal if p in text] == []
