"""`/v1/hash` and `/v1/match` on a file that is not an image they can read: each says so with the
typed error (`unsupported_format`, `corrupt`), never an empty "no match"."""

from __future__ import annotations

import asyncio
import hashlib

import httpx
import pytest

from provider_fixtures import in_process_client
from tutela.db.database import Database
from tutela.indicators.banks import create_bank
from tutela.indicators.ledger import add_indicator
from tutela.settings import Settings

NOT_AN_IMAGE = b"plain text, not a picture of anything " * 4
CUT_PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
UNDECODABLE = [(NOT_AN_IMAGE, 415, "unsupported_format"), (CUT_PNG, 422, "corrupt")]


def post_file(settings: Settings, database: Database, route: str, data: bytes) -> httpx.Response:
    async def post() -> httpx.Response:
        async with in_process_client(settings, database) as client:
            return await client.post(route, files={"file": ("upload.jpg", data)})

    return asyncio.run(post())


@pytest.mark.parametrize(("data", "status", "code"), UNDECODABLE, ids=["text", "cut-png"])
def test_match_on_an_undecodable_file_answers_its_typed_error(
    settings: Settings, database: Database, data: bytes, status: int, code: str
) -> None:
    answer = post_file(settings, database, "/v1/match", data)
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == code


@pytest.mark.parametrize(
    ("data", "code"), [(data, code) for data, _, code in UNDECODABLE], ids=["text", "cut-png"]
)
def test_hash_on_an_undecodable_file_gives_its_typed_error_beside_the_exact_hashes(
    settings: Settings, database: Database, data: bytes, code: str
) -> None:
    answer = post_file(settings, database, "/v1/hash", data)
    assert answer.status_code == 200  # a `tutela hash --json` line: exact hashes are still there
    line = answer.json()
    assert line["error"]["code"] == code
    assert line["signals"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert "pdq" not in line["signals"]


def test_match_on_an_undecodable_file_whose_bytes_are_banked_answers_the_match_and_the_error(
    settings: Settings, database: Database
) -> None:
    create_bank(database, "files")
    add_indicator(database, "files", "sha256", hashlib.sha256(NOT_AN_IMAGE).hexdigest())
    answer = post_file(settings, database, "/v1/match", NOT_AN_IMAGE)
    assert answer.status_code == 200
    body = answer.json()
    assert [(m["bank"], m["signal_type"]) for m in body["matches"]] == [("files", "sha256")]
    assert body["error"]["code"] == "unsupported_format"
