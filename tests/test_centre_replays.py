"""Replays and hostile but validly signed reports at the centre's intake, and replays of the
centre's signed messages at the provider: a signed report is stored once whatever key comes with
it and answered as the first time; stale and future signatures are refused; malformed reports get
a 422 problem, never a 500, and nothing is stored. Only placeholder reports (tests/report_samples)."""

from __future__ import annotations

import base64
import json
import warnings
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from report_samples import PROVIDER, sample_input
from tutela.centre.models import CentreReport
from tutela.centre.providers import register_provider
from tutela.clock import utc_now
from tutela.db import Database
from tutela.messaging.canonical import canonical_json
from tutela.messaging.signing import SignedReport, SigningKey, generate_key_file, sign_report
from tutela.nodes.centre import create_centre_app
from tutela.reporting.report import build_report
from tutela.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture
def key(tmp_path: Path, database: Database) -> SigningKey:
    provider_key = generate_key_file(tmp_path / "provider.pem")
    with database.unit_of_work() as session:
        register_provider(session, PROVIDER.name, provider_key.public_key_pem(), utc_now(), "DE")
    return provider_key


@pytest.fixture
def client(tmp_path: Path, database: Database) -> Any:
    settings = Settings(data_dir=tmp_path, centre_max_report_bytes=256 * 1024)
    with TestClient(create_centre_app(settings, database)) as test_client:
        yield test_client


def signed(key: SigningKey, at: datetime | None = None, **changes: object) -> SignedReport:
    report = build_report(sample_input(), PROVIDER, at or utc_now())
    return sign_report(report, key, at or utc_now())


def signed_body(key: SigningKey, document: dict[str, Any]) -> SignedReport:
    """Any document, signed as the provider would sign a report."""
    body = canonical_json({**document, "signed_at": utc_now().isoformat(), "key_id": key.key_id})
    return SignedReport(body, key.sign(body), key.key_id, "")


def post(client: Any, report: SignedReport, idempotency_key: str) -> Any:
    return client.post(
        "/v1/reports",
        content=report.body,
        headers={
            "Tutela-Key-Id": report.key_id,
            "Tutela-Signature": report.signature,
            "Idempotency-Key": idempotency_key,
        },
    )


def stored(database: Database) -> int:
    with database.reader() as session:
        return int(session.scalar(select(func.count()).select_from(CentreReport)) or 0)


def test_a_report_replayed_under_a_new_idempotency_key_is_stored_once_and_answered_as_before(
    key: SigningKey, client: Any, database: Database
) -> None:
    report = signed(key)
    first = post(client, report, "k-1")
    replay = post(client, report, "k-2")
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert stored(database) == 1


def test_a_report_signed_two_years_ago_is_refused_as_stale(
    key: SigningKey, client: Any, database: Database
) -> None:
    answer = post(client, signed(key, utc_now() - timedelta(days=730)), "k-1")
    assert answer.status_code == 401
    assert answer.json()["code"] == "stale_signature"
    assert stored(database) == 0


def test_a_report_signed_a_year_ahead_is_refused_as_stale(
    key: SigningKey, client: Any, database: Database
) -> None:
    answer = post(client, signed(key, utc_now() + timedelta(days=365)), "k-1")
    assert answer.status_code == 401
    assert answer.json()["code"] == "stale_signature"
    assert stored(database) == 0


def test_the_signing_window_is_a_setting(
    tmp_path: Path, key: SigningKey, database: Database
) -> None:
    settings = Settings(data_dir=tmp_path, signed_message_max_age_s=60)
    with TestClient(create_centre_app(settings, database)) as narrow:
        answer = post(narrow, signed(key, utc_now() - timedelta(minutes=5)), "k-1")
    assert answer.json()["code"] == "stale_signature"


def test_a_stale_repeat_of_a_report_taken_while_fresh_is_answered_as_before(
    tmp_path: Path, key: SigningKey, client: Any, database: Database
) -> None:
    report = signed(key, utc_now() - timedelta(minutes=5))
    first = post(client, report, "k-1")
    settings = Settings(data_dir=tmp_path, signed_message_max_age_s=60)
    with TestClient(create_centre_app(settings, database)) as narrow:
        again = post(narrow, report, "k-1")
    assert (again.status_code, again.json()) == (201, first.json())


def malformed(report: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    *parents, last = path.split(".")
    part = report
    for name in parents:
        part = part.setdefault(name, {})
    part[last] = value
    return report


def sample(at: datetime | None = None) -> dict[str, Any]:
    return build_report(sample_input(), PROVIDER, at or utc_now())


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("report_id", "r" * 5000),
        ("content.hashes", [{"signal_type": "x" * 5000, "value": "ab"}]),
        ("content.hashes", [{"signal_type": "tlsh", "value": "a" * 5000}]),
        ("urgency", "very"),
        ("removal.removed", "yes"),
        ("location.geo.country", "Germany"),
        ("provider", ["not", "an", "object"]),
        ("content.files", 3),
    ],
)
def test_a_validly_signed_report_with_a_malformed_field_gets_422_and_nothing_is_stored(
    key: SigningKey, client: Any, database: Database, path: str, value: object
) -> None:
    report = signed_body(key, malformed(sample(), path, value))
    answer = post(client, report, "k-1")
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "malformed_report"
    assert stored(database) == 0


def test_a_validly_signed_report_nested_50000_deep_gets_422(
    key: SigningKey, client: Any, database: Database
) -> None:
    prefix = json.dumps(sample(), sort_keys=True)[:-1]
    body = (prefix + ',"zz":' + "[" * 50_000 + "]" * 50_000 + "}").encode()
    answer = post(client, SignedReport(body, key.sign(body), key.key_id, ""), "k-1")
    assert answer.status_code == 422
    assert answer.json()["code"] == "malformed_report"
    assert stored(database) == 0


def test_a_report_nested_deeper_than_any_report_is_refused_before_it_is_walked(
    key: SigningKey, client: Any, database: Database
) -> None:
    nested: dict[str, Any] = {}
    for _ in range(40):
        nested = {"n": nested}
    answer = post(client, signed_body(key, {**sample(), "metadata": nested}), "k-1")
    assert answer.json()["code"] == "malformed_report"


def test_a_report_over_the_size_limit_is_refused_with_413_before_it_is_read_whole(
    key: SigningKey, client: Any, database: Database
) -> None:
    report = signed_body(key, {**sample(), "free_text": "x" * 300_000})
    answer = post(client, report, "k-1")
    assert answer.status_code == 413
    assert answer.json()["code"] == "too_large"
    assert stored(database) == 0


def test_nothing_is_read_for_a_key_no_registered_provider_holds(
    tmp_path: Path, client: Any
) -> None:
    def body() -> Any:
        yield b"{"
        raise AssertionError("the centre read the body of an unknown key")

    answer = client.post(
        "/v1/reports",
        content=body(),
        headers={
            "Tutela-Key-Id": "0" * 32,
            "Tutela-Signature": base64.b64encode(b"x" * 64).decode(),
            "Idempotency-Key": "k-1",
        },
    )
    assert answer.status_code == 401
    assert answer.json()["code"] == "unknown_provider"
