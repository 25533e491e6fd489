"""Centre intake: only registered providers' verified reports get in, once, linked by material."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from sqlalchemy import select

from report_samples import NOW, PDQ_A, PROVIDER, sample_input
from tutela.centre.intake import accept_report, receive_report
from tutela.centre.models import CentreReport, Forwarding
from tutela.centre.providers import register_provider
from tutela.centre.triage import forward_report, mark_unfounded, next_for_triage, set_routing_rule
from tutela.clock import utc_now
from tutela.db import Database
from tutela.errors import IncompleteReport, InvalidSignature, UnknownProvider
from tutela.messaging.outbox import deliver_due
from tutela.messaging.outbox_models import MessageStatus, OutboxMessage
from tutela.messaging.signing import SignedReport, SigningKey, generate_key_file, sign_report
from tutela.nodes.centre import create_centre_app
from tutela.reporting.fields import MatchFacts, ProviderIdentity
from tutela.reporting.filing import file_report
from tutela.reporting.report import build_report
from tutela.reporting.transports.centre import CentreTransport
from tutela.settings import Settings

with warnings.catch_warnings():
    # This Starlette release would rather see its httpx fork; the httpx client works the same.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

OTHER = ProviderIdentity("Other Video Ltd", "Other Rep", "abuse@other.example", "IE")
# Seven bits from PDQ_A: the same picture, re-encoded.
PDQ_NEAR = "fe" + "f" * 14 + "0" * 46 + "03"


def provider_key(tmp_path: Path, database: Database, identity: ProviderIdentity) -> SigningKey:
    key = generate_key_file(tmp_path / f"{identity.name}.pem")
    with database.unit_of_work() as session:
        register_provider(session, identity.name, key.public_key_pem(), NOW, identity.country)
    return key


def signed(
    key: SigningKey, identity: ProviderIdentity = PROVIDER, case_id: int = 7, **changes: object
) -> SignedReport:
    report = build_report(sample_input(case_id, **changes), identity, NOW)
    return sign_report(report, key, NOW)


def receive(database: Database, report: SignedReport, key: str = "k-1") -> int:
    accepted = receive_report(database, report.key_id, report.body, report.signature, key, NOW)
    return accepted.id


def test_report_with_a_bad_signature_is_refused(tmp_path: Path, database: Database) -> None:
    key = provider_key(tmp_path, database, PROVIDER)
    report = signed(key)
    tampered = report.body.replace(b"192.0.2.10", b"192.0.2.11")
    with pytest.raises(InvalidSignature), database.unit_of_work() as session:
        accept_report(session, report.key_id, tampered, report.signature, "k-1", NOW)


def test_report_from_an_unknown_provider_is_refused(tmp_path: Path, database: Database) -> None:
    stranger = generate_key_file(tmp_path / "stranger.pem")
    with pytest.raises(UnknownProvider):
        receive(database, signed(stranger))


def test_incomplete_report_is_refused_with_the_missing_fields(
    tmp_path: Path, database: Database
) -> None:
    key = provider_key(tmp_path, database, PROVIDER)
    with pytest.raises(IncompleteReport) as caught:
        receive(database, signed(key, legal_basis=""))
    assert caught.value.missing == ("legal_basis (Art 13(1)(k))",)


def test_intake_is_idempotent_per_provider_and_key(tmp_path: Path, database: Database) -> None:
    key = provider_key(tmp_path, database, PROVIDER)
    report = signed(key)
    assert receive(database, report) == receive(database, report)
    with database.reader() as session:
        assert len(session.scalars(select(CentreReport)).all()) == 1


def test_two_providers_reports_of_the_same_pdq_join_one_incident(
    tmp_path: Path, database: Database
) -> None:
    first_key = provider_key(tmp_path, database, PROVIDER)
    other_key = provider_key(tmp_path, database, OTHER)
    first = receive(database, signed(first_key))
    near = (MatchFacts("other-bank", 9, "pdq", PDQ_NEAR, 7),)
    second = receive(database, signed(other_key, OTHER, matches=near, signals={"pdq": PDQ_NEAR}))
    far = (MatchFacts("other-bank", 10, "pdq", "0" * 64, 0),)
    third = receive(
        database, signed(other_key, OTHER, case_id=8, matches=far, signals={"pdq": "0" * 64}), "k-3"
    )
    with database.reader() as session:
        incidents = {r.id: r.incident_id for r in session.scalars(select(CentreReport))}
    assert incidents[first] == incidents[second] != incidents[third]


def test_unfounded_report_queues_the_reasons_for_the_provider(
    tmp_path: Path, database: Database
) -> None:
    key = provider_key(tmp_path, database, PROVIDER)
    report_id = receive(database, signed(key))
    with database.unit_of_work() as session:
        mark_unfounded(session, report_id, "placeholder reason: a test pattern", NOW)
    with database.reader() as session:
        message = session.scalars(select(OutboxMessage)).one()
        assert (message.destination, message.kind) == ("provider", "unfounded")
        assert message.payload["reasons"] == "placeholder reason: a test pattern"


def test_forwarding_goes_to_europol_and_the_competent_lea_urgent_first(
    tmp_path: Path, database: Database
) -> None:
    key = provider_key(tmp_path, database, PROVIDER)
    plain = receive(database, signed(key), "k-1")
    urgent = receive(database, signed(key, case_id=9, urgent=True, urgent_reason="test"), "k-2")
    with database.unit_of_work() as session:
        set_routing_rule(session, "de", "lea-de", NOW)
        assert [r.id for r in next_for_triage(session)] == [urgent, plain]
        assessment = forward_report(session, urgent, NOW)
    assert assessment.recipients == ("europol", "lea-de")
    with database.reader() as session:
        assert sorted(session.scalars(select(Forwarding.recipient))) == ["europol", "lea-de"]


def test_provider_outbox_delivers_a_filed_report_to_the_centre_app(
    tmp_path: Path, database: Database
) -> None:
    key = provider_key(tmp_path, database, PROVIDER)
    app = create_centre_app(Settings(data_dir=tmp_path), database)
    now = utc_now()  # the centre checks the signing time against its own clock
    with database.unit_of_work() as session:
        filed = file_report(session, sample_input(), PROVIDER, key, now)
    with TestClient(app) as client:
        transport = CentreTransport("http://testserver", client)
        run = deliver_due(database, {"centre": transport}, now)
        assert run.delivered == [filed.message_ids["centre"]]
        with database.reader() as session:
            message = session.get_one(OutboxMessage, filed.message_ids["centre"])
        assert message.status == MessageStatus.ACKNOWLEDGED
        centre_id = int(message.remote_ref or 0)
        with database.reader() as session:
            stored = session.get_one(CentreReport, centre_id)
        assert json.loads(stored.body)["report_id"] == filed.report_id


def test_centre_app_answers_a_bad_signature_with_problem_details(
    tmp_path: Path, database: Database
) -> None:
    key = provider_key(tmp_path, database, PROVIDER)
    report = signed(key)
    app = create_centre_app(Settings(data_dir=tmp_path), database)
    with TestClient(app) as client:
        response = client.post(
            "/v1/reports",
            content=report.body + b" ",
            headers={
                "Tutela-Key-Id": report.key_id,
                "Tutela-Signature": report.signature,
                "Idempotency-Key": "k-1",
            },
        )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_signature"
    assert PDQ_A not in response.text
