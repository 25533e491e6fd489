"""The centre takes providers' signed follow-ups to their reports: a removal confirmed after the
report left, a retraction after a complaint reversed the decision (Art 13(1)(i), Art 45(2),
DSA Art 20(4)); replays change nothing."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from report_samples import PROVIDER, sample_input
from tutela.centre.models import CentreReport
from tutela.centre.providers import register_provider
from tutela.centre.update_models import CentreReportUpdate
from tutela.clock import utc_now
from tutela.db import Database
from tutela.messaging.outbox import deliver_due
from tutela.messaging.signing import SigningKey, generate_key_file
from tutela.nodes.centre import create_centre_app
from tutela.reporting.fields import ProviderIdentity
from tutela.reporting.filing import file_report
from tutela.reporting.report_updates import (
    queue_removal_update,
    queue_retraction,
    signed_payload,
)
from tutela.reporting.transports.centre import CentreTransport
from tutela.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

OTHER = ProviderIdentity("Other Video Ltd", "Other Rep", "abuse@other.example", "IE")


def provider_key(tmp_path: Path, database: Database, identity: ProviderIdentity) -> SigningKey:
    key = generate_key_file(tmp_path / f"{identity.name}.pem")
    with database.unit_of_work() as session:
        register_provider(session, identity.name, key.public_key_pem(), utc_now(), "NL")
    return key


@pytest.fixture
def client(tmp_path: Path, database: Database) -> Iterator[TestClient]:
    with TestClient(create_centre_app(Settings(data_dir=tmp_path), database)) as test_client:
        yield test_client


def reported(database: Database, key: SigningKey, client: TestClient, now: datetime) -> str:
    """A report filed (not removed yet) and delivered to the centre; its report id."""
    with database.unit_of_work() as session:
        filed = file_report(
            session, sample_input(removed=False, removed_at=None), PROVIDER, key, now
        )
    assert deliver_due(database, {"centre": CentreTransport("http://testserver", client)}, now)
    return filed.report_id


def centre_report(database: Database) -> CentreReport:
    with database.reader() as session:
        return session.scalars(select(CentreReport)).one()


def updates(database: Database) -> int:
    with database.reader() as session:
        return int(session.scalar(select(func.count()).select_from(CentreReportUpdate)) or 0)


def test_a_removal_update_through_the_outbox_marks_the_centres_report_removed(
    tmp_path: Path, database: Database, client: TestClient
) -> None:
    key = provider_key(tmp_path, database, PROVIDER)
    now = utc_now()
    report_id = reported(database, key, client, now)
    assert centre_report(database).removed is False

    with database.unit_of_work() as session:
        queue_removal_update(session, lambda: key, report_id, now, "removed", now)
    run = deliver_due(database, {"centre": CentreTransport("http://testserver", client)}, now)

    assert len(run.delivered) == 1
    assert centre_report(database).removed is True
    assert updates(database) == 1


def test_a_retraction_tags_the_centres_report_retracted(
    tmp_path: Path, database: Database, client: TestClient
) -> None:
    key = provider_key(tmp_path, database, PROVIDER)
    now = utc_now()
    report_id = reported(database, key, client, now)

    with database.unit_of_work() as session:
        queue_retraction(session, lambda: key, report_id, "complaint_upheld", now)
    deliver_due(database, {"centre": CentreTransport("http://testserver", client)}, now)

    assert "retracted" in centre_report(database).tags


def post(client: TestClient, payload: dict[str, str], header_key: str) -> int:
    response = client.post(
        "/v1/report-updates",
        content=payload["body"].encode(),
        headers={
            "Tutela-Key-Id": payload["key_id"],
            "Tutela-Signature": payload["signature"],
            "Idempotency-Key": header_key,
        },
    )
    status: int = response.status_code
    return status


def test_a_replayed_update_is_answered_as_the_first_and_stores_nothing(
    tmp_path: Path, database: Database, client: TestClient
) -> None:
    key = provider_key(tmp_path, database, PROVIDER)
    now = utc_now()
    report_id = reported(database, key, client, now)
    removal = {"removed": True, "at": now.isoformat()}
    payload = signed_payload(
        key,
        "report_update",
        f"{report_id}/removed",
        {"report_id": report_id, "removal": removal},
        now,
    )

    assert post(client, payload, "first") == 201
    assert post(client, payload, "another-key") == 200
    assert updates(database) == 1


def test_an_update_about_another_providers_report_is_not_found(
    tmp_path: Path, database: Database, client: TestClient
) -> None:
    key = provider_key(tmp_path, database, PROVIDER)
    other = provider_key(tmp_path, database, OTHER)
    now = utc_now()
    report_id = reported(database, key, client, now)
    payload = signed_payload(
        other,
        "report_retraction",
        f"{report_id}/retraction",
        {"report_id": report_id, "reason": "complaint_upheld"},
        now,
    )

    assert post(client, payload, "k") == 404
    assert "retracted" not in centre_report(database).tags
