"""The Art 5 report: a signed-off assessment as canonical JSON signed with the provider's key,
exported as a file whose signature verifies (and fails on any change); `tutela risk export`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from test_risk_figures import NOW
from test_risk_versions import OFFICER, POLICY, add_officer_and_reviewer, signed_off_chat
from tutela.audit.log import Action, list_entries
from tutela.cli import main
from tutela.clock import FixedClock
from tutela.db.database import Database
from tutela.errors import Forbidden, InvalidSignature, NotFound
from tutela.messaging.signing import SigningKey, default_key_file, generate_key_file
from tutela.reporting.fields import ProviderIdentity
from tutela.risk.art5_report import export_report, verify_exported
from tutela.risk.register import start_assessment
from tutela.settings import Settings

PROVIDER = ProviderIdentity("Example Social BV", "Example Rep", "safety@example.social", "NL")


@pytest.fixture
def people(database: Database) -> Database:
    """A compliance officer and a reviewer."""
    return add_officer_and_reviewer(database)


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return generate_key_file(tmp_path / "provider.pem")


def test_the_exported_report_verifies_against_the_providers_key(
    people: Database, key: SigningKey
) -> None:
    clock = FixedClock(NOW)
    signed_off_chat(people, clock)
    exported = export_report(people, OFFICER, key, PROVIDER, POLICY, clock=clock)
    document = verify_exported(exported.file_bytes, key.public_key_pem())
    assert document["type"] == "csa_risk_report"
    assert document["provider"]["name"] == "Example Social BV"
    assert (document["service"], document["version"]) == ("Example Social", 1)
    assert document["assessment"]["parts"][0]["score"]["level"] == "high"
    assert document["mitigation_measures"][0]["kind"] == "age_assurance"
    assert document["key_id"] == key.key_id and document["signed_at"] == NOW.isoformat()


def test_a_changed_report_no_longer_verifies(people: Database, key: SigningKey) -> None:
    clock = FixedClock(NOW)
    signed_off_chat(people, clock)
    exported = export_report(people, OFFICER, key, PROVIDER, POLICY, clock=clock)
    envelope = json.loads(exported.file_bytes)
    envelope["document"]["assessment"]["parts"][0]["score"]["level"] = "low"
    with pytest.raises(InvalidSignature):
        verify_exported(json.dumps(envelope).encode(), key.public_key_pem())


def test_a_report_signed_with_another_key_is_refused(
    people: Database, key: SigningKey, tmp_path: Path
) -> None:
    clock = FixedClock(NOW)
    signed_off_chat(people, clock)
    exported = export_report(people, OFFICER, key, PROVIDER, POLICY, clock=clock)
    other = generate_key_file(tmp_path / "other.pem")
    with pytest.raises(InvalidSignature, match="another key"):
        verify_exported(exported.file_bytes, other.public_key_pem())


def test_the_export_is_audited_as_the_officers(people: Database, key: SigningKey) -> None:
    clock = FixedClock(NOW)
    signed_off_chat(people, clock)
    export_report(people, OFFICER, key, PROVIDER, POLICY, clock=clock)
    with people.reader() as session:
        (entry,) = list_entries(session, action=Action.EXPORT)
    assert entry.details["document"] == "csa_risk_report"
    assert entry.subject is not None and entry.subject.type == "risk_assessment"


def test_only_a_signed_off_version_is_exported(people: Database, key: SigningKey) -> None:
    clock = FixedClock(NOW)
    start_assessment(people, "Example Social", OFFICER, clock=clock)
    with pytest.raises(NotFound, match="no signed-off risk assessment"):
        export_report(people, OFFICER, key, PROVIDER, POLICY, clock=clock)


def test_only_a_compliance_officer_exports(people: Database, key: SigningKey) -> None:
    clock = FixedClock(NOW)
    signed_off_chat(people, clock)
    with pytest.raises(Forbidden):
        export_report(people, "rita", key, PROVIDER, POLICY, clock=clock)


def test_tutela_risk_export_writes_a_signed_file(
    people: Database, cli_env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    signed_off_chat(people, FixedClock(NOW))
    key = generate_key_file(default_key_file(cli_env))
    out = tmp_path / "art5.json"
    with pytest.raises(SystemExit) as exited:
        main(["risk", "export", "--out", str(out), "--by", OFFICER, "--json"])
    assert exited.value.code in (0, None)
    line = json.loads(capsys.readouterr().out)
    assert (line["service"], line["version"]) == ("Example Social", 1)
    assert verify_exported(out.read_bytes(), key.public_key_pem())["service"] == "Example Social"
