"""What `POST /v1/items` trusts: an item is (platform, item_id, content), so a reused item_id
with other content is a new item, hashed and decided; every id and metadata string is checked
and bounded (422, nothing stored); one bad submission never fails its batch neighbours; media
types in any casing; hash-only submissions decided at intake always."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from provider_fixtures import drawn_image, in_process_client, jpeg, make_bank, png
from tutela.api.intake import Intake
from tutela.db.database import Database
from tutela.detection.items import Submission, get_item, upload_submission
from tutela.detection.models import Item, Job
from tutela.errors import TutelaError
from tutela.indicators.matcher import Matcher
from tutela.settings import Settings
from tutela.signals.hashing import pdq_of_bytes
from tutela.signals.pdq import PdqMode

KNOWN = drawn_image(41)


def upload(item_id: str, data: bytes, **metadata: object) -> dict[str, Any]:
    return {
        "files": {"file": ("upload.jpg", data)},
        "data": {"metadata": json.dumps({"item_id": item_id, **metadata})},
    }


async def post_all(
    settings: Settings, database: Database, requests: Sequence[dict[str, Any]]
) -> list[httpx.Response]:
    """POST every request to `/v1/items` at once (they share intake batches)."""
    async with in_process_client(settings, database) as client:
        return list(await asyncio.gather(*(client.post("/v1/items", **r) for r in requests)))


def post_one_by_one(
    settings: Settings, database: Database, requests: Sequence[dict[str, Any]]
) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        async with in_process_client(settings, database) as client:
            return [await client.post("/v1/items", **r) for r in requests]

    return asyncio.run(run())


def items_stored(database: Database) -> int:
    with database.reader() as session:
        return int(session.scalar(select(func.count()).select_from(Item)) or 0)


def test_the_same_item_id_with_other_bytes_is_a_new_item_hashed_and_decided(
    settings: Settings, database: Database
) -> None:
    make_bank(database, "known", [KNOWN])
    first, replay, reused = post_one_by_one(
        settings,
        database,
        [
            upload("reused", jpeg(drawn_image(42))),
            upload("reused", jpeg(drawn_image(42))),
            upload("reused", jpeg(KNOWN)),
        ],
    )
    assert (first.status_code, replay.status_code, reused.status_code) == (202, 200, 202)
    assert replay.json() == first.json()
    assert reused.json()["id"] != first.json()["id"]
    assert get_item(database, first.json()["id"]).verdict == "no_match"
    assert get_item(database, reused.json()["id"]).verdict == "review"


def test_a_hash_only_item_is_its_id_and_canonical_signals(
    settings: Settings, database: Database
) -> None:
    pdq = pdq_of_bytes(png(KNOWN), mode=PdqMode.EXACT).hash

    def body(value: str) -> dict[str, Any]:
        return {"json": {"metadata": {"item_id": "h"}, "signals": {"pdq": value}}}

    first, upper_case, other = post_one_by_one(
        settings, database, [body(pdq), body(pdq.upper()), body("0" * 64)]
    )
    assert (first.status_code, upper_case.status_code, other.status_code) == (202, 200, 202)
    assert upper_case.json()["id"] == first.json()["id"]  # the same hash, canonically
    assert other.json()["id"] != first.json()["id"]


@pytest.mark.parametrize("item_id", ["nul\x00inside", "line\nbreak", "escape\x1b[31m", "\ud800"])
def test_an_item_id_with_a_control_character_is_refused(
    settings: Settings, database: Database, item_id: str
) -> None:
    data = jpeg(drawn_image(43))
    # json.dumps escapes to ASCII: an unpaired surrogate travels as `\\ud800`, as JSON allows.
    hash_only = {
        "content": json.dumps({"metadata": {"item_id": item_id}, "signals": {"md5": "0" * 32}}),
        "headers": {"Content-Type": "application/json"},
    }
    as_upload = {
        "files": {"file": ("upload.jpg", data)},
        "data": {"metadata": json.dumps({"item_id": item_id})},
    }
    answers = post_one_by_one(settings, database, [as_upload, hash_only])
    assert [a.status_code for a in answers] == [422, 422]
    assert {a.json()["code"] for a in answers} == {"invalid_input"}
    assert items_stored(database) == 0


@pytest.mark.parametrize(
    "metadata",
    [
        {"account_id": "a\x00b"},
        {"extra": {"note": "a\x00b"}},
        {"extra": {"k\x00": 1}},
        {"url": "u" * 3000},
        {"extra": {"note": "x" * 20_000}},
        {"extra": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}},
    ],
    ids=["nul-field", "nul-extra-value", "nul-extra-key", "long-field", "big-extra", "deep-extra"],
)
def test_metadata_with_a_control_character_or_over_its_bounds_is_refused(
    settings: Settings, database: Database, metadata: dict[str, Any]
) -> None:
    (answer,) = post_one_by_one(
        settings, database, [upload("m", jpeg(drawn_image(44)), **metadata)]
    )
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_input"
    assert items_stored(database) == 0


def test_a_twenty_megabyte_metadata_field_is_refused_unread(
    settings: Settings, database: Database
) -> None:
    huge = upload("big-metadata", jpeg(drawn_image(45)), extra={"note": "x" * 20_000_000})
    (answer,) = post_one_by_one(settings, database, [huge])
    assert answer.status_code == 422 and "at most" in answer.json()["detail"]
    assert items_stored(database) == 0


def test_a_burst_with_one_bad_upload_fails_that_upload_only(
    settings: Settings, database: Database
) -> None:
    requests = [upload(f"good-{i}", jpeg(drawn_image(50 + i))) for i in range(11)]
    requests.insert(5, upload("bad\x00id", jpeg(drawn_image(49))))
    answers = asyncio.run(post_all(settings, database, requests))
    codes = [a.status_code for a in answers]
    assert codes[5] == 422 and codes[:5] + codes[6:] == [202] * 11
    assert items_stored(database) == 11


class NoHashing:
    """Stands for the hashing pool where uploads are queued, never hashed at intake."""

    waiting = 0
    working = False


def test_one_submission_the_database_refuses_fails_alone_in_its_batch(
    database: Database,
) -> None:
    """The batch commit itself: a row that cannot be written (here metadata no JSON encoder
    takes) rolls back the batch's transaction; its neighbours are written again, each alone."""
    intake = Intake(database, Matcher(database), NoHashing(), inline_limit=0)  # type: ignore[arg-type]
    good = [upload_submission(f"n-{i}", {"item_id": f"n-{i}"}, b"bytes %d" % i) for i in range(6)]
    bad = Submission("refused", {"item_id": "refused", "x": object()}, data=b"bad")

    async def burst() -> list[object]:
        return list(
            await asyncio.gather(
                *(intake.accept(s) for s in [*good[:3], bad, *good[3:]]), return_exceptions=True
            )
        )

    answers = asyncio.run(burst())
    assert isinstance(answers[3], Exception) and not isinstance(answers[3], TutelaError)
    assert [getattr(a, "status", None) for a in answers[:3] + answers[4:]] == ["queued"] * 6
    with database.reader() as session:
        assert int(session.scalar(select(func.count()).select_from(Job)) or 0) == 6
    assert items_stored(database) == 6


@pytest.mark.parametrize(
    "content_type", ["Multipart/Form-Data", "MULTIPART/FORM-DATA", " multipart/form-data"]
)
def test_a_multipart_media_type_in_any_casing_is_an_upload(
    settings: Settings, database: Database, content_type: str
) -> None:
    request = httpx.Request("POST", "http://node/v1/items", **upload("cased", jpeg(KNOWN)))
    body = request.read()
    boundary = request.headers["content-type"].split("boundary=")[1]
    headers = {"Content-Type": f"{content_type}; boundary={boundary}"}
    (answer,) = post_one_by_one(settings, database, [{"content": body, "headers": headers}])
    assert answer.status_code == 202, answer.text


def test_hash_only_submissions_are_decided_at_intake_with_inline_hashing_off(
    settings: Settings, database: Database
) -> None:
    make_bank(database, "known", [KNOWN])
    pdq = pdq_of_bytes(png(KNOWN), mode=PdqMode.EXACT).hash
    off = dataclasses.replace(settings, inline_hashing_depth=0)
    (answer,) = post_one_by_one(
        off, database, [{"json": {"metadata": {"item_id": "h0"}, "signals": {"pdq": pdq}}}]
    )
    assert answer.json()["status"] == "done"
    assert get_item(database, answer.json()["id"]).verdict == "review"
    with database.reader() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0
