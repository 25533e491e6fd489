"""The local Transparency Database refuses what the real one refuses (its documentation and
validation rules): the delivery tests are only as good as this server's checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dsa_tdb_server import MULTIPLE, SINGLE, TOKEN, TransparencyDatabase, transparency_database

HEADERS = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
VALID: dict[str, Any] = {
    "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
    "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
    "illegal_content_legal_ground": "a law",
    "illegal_content_explanation": "why",
    "category": "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
    "category_specification": ["KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"],
    "content_type": ["CONTENT_TYPE_IMAGE"],
    "content_date": "2025-03-01",
    "application_date": "2025-03-01",
    "decision_facts": "facts",
    "source_type": "SOURCE_VOLUNTARY",
    "automated_detection": "Yes",
    "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
    "puid": "TK421",
}


@pytest.fixture
def tdb() -> Iterator[TransparencyDatabase]:
    with transparency_database() as db:
        yield db


def post(tdb: TransparencyDatabase, path: str, body: Any, **headers: str) -> httpx.Response:
    return httpx.post(tdb.url + path, json=body, headers={**HEADERS, **headers}, timeout=10)


def test_a_valid_statement_is_created(tdb: TransparencyDatabase) -> None:
    response = post(tdb, SINGLE, VALID)
    assert response.status_code == 201
    assert response.json()["puid"] == "TK421" and "uuid" in response.json()


@pytest.mark.parametrize(
    "field", ["decision_ground", "content_type", "category", "application_date", "content_date",
              "decision_facts", "source_type", "automated_detection", "automated_decision", "puid",
              "illegal_content_legal_ground", "illegal_content_explanation"],
)  # fmt: skip
def test_a_statement_without_a_required_field_is_refused(
    tdb: TransparencyDatabase, field: str
) -> None:
    body = {k: v for k, v in VALID.items() if k != field}
    response = post(tdb, SINGLE, body)
    assert response.status_code == 422
    assert field in response.json()["errors"]


def test_a_statement_without_any_decision_is_refused(tdb: TransparencyDatabase) -> None:
    body = {k: v for k, v in VALID.items() if k != "decision_visibility"}
    assert post(tdb, SINGLE, body).status_code == 422


@pytest.mark.parametrize(
    ("field", "value"),
    [("category", "STATEMENT_CATEGORY_CSAM"), ("automated_detection", "yes"),
     ("automated_decision", "maybe"), ("content_type", ["CONTENT_TYPE_PHOTO"]),
     ("category_specification", ["KEYWORD_CSAM"]), ("territorial_scope", ["US"]),
     ("application_date", "2025-03-01T12:00:00"), ("content_date", "01/03/2025"),
     ("puid", "has spaces"), ("decision_facts", "x" * 5001), ("decision_account", "suspended"),
     ("user_name", "someone")],
)  # fmt: skip
def test_a_statement_with_a_bad_value_is_refused(
    tdb: TransparencyDatabase, field: str, value: Any
) -> None:
    response = post(tdb, SINGLE, {**VALID, field: value})
    assert response.status_code == 422
    assert field in response.json()["errors"]


def test_a_call_without_the_bearer_token_is_unauthorised(tdb: TransparencyDatabase) -> None:
    assert post(tdb, SINGLE, VALID, Authorization="Bearer wrong").status_code == 401


def test_a_duplicate_puid_is_refused_naming_the_existing_statement(
    tdb: TransparencyDatabase,
) -> None:
    post(tdb, SINGLE, VALID)
    response = post(tdb, SINGLE, VALID)
    assert response.status_code == 422
    assert response.json()["existing"] == {"puid": "TK421"}


def test_the_multiple_endpoint_takes_at_most_100_statements(tdb: TransparencyDatabase) -> None:
    many = [{**VALID, "puid": f"p{i}"} for i in range(101)]
    assert post(tdb, MULTIPLE, {"statements": many}).status_code == 422
    assert post(tdb, MULTIPLE, {"statements": many[:100]}).status_code == 201
    assert len(tdb.stored) == 100


def test_a_multiple_call_with_a_known_puid_stores_none_and_names_it(
    tdb: TransparencyDatabase,
) -> None:
    post(tdb, SINGLE, VALID)
    response = post(tdb, MULTIPLE, {"statements": [{**VALID, "puid": "new1"}, VALID]})
    assert response.status_code == 422
    assert response.json()["errors"]["existing_puids"] == ["TK421"]
    assert set(tdb.stored) == {"TK421"}


def test_a_bad_statement_in_a_multiple_call_is_named_by_its_position(
    tdb: TransparencyDatabase,
) -> None:
    bad = {**VALID, "puid": "b", "category": "nope"}
    response = post(tdb, MULTIPLE, {"statements": [{**VALID, "puid": "a"}, bad]})
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["statement_1"]
    assert not tdb.stored
