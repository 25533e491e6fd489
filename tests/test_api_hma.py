"""The HMA-compatible API under /hma answers HMA's documented requests (hasher-matcher-actioner's
docs/api.md and route code) with HMA's JSON shapes, behind a Tutela API key; what Tutela does not
do (fetching URLs, changing banks through this API) is refused with a clear problem."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from provider_fixtures import drawn_image, flip_bits, in_process_client, make_bank, png
from tutela.db.database import Database
from tutela.indicators.banks import create_bank, set_bank_enabled
from tutela.indicators.ledger import add_indicator
from tutela.settings import Settings
from tutela.signals.hashing import pdq_of_bytes
from tutela.signals.pdq import PdqMode

KNOWN = drawn_image(8201)
BANKED = pdq_of_bytes(png(KNOWN), mode=PdqMode.EXACT).hash
# The hash HMA's docs use in their examples; in no bank here.
HMA_EXAMPLE = "d811ac390bfa6005d08543fe27fd5a11f6b55bdd2603000dc26476fc79fc76b5"


def run(
    settings: Settings, database: Database, call: Callable[[httpx.AsyncClient], Awaitable[Any]]
) -> Any:
    async def go() -> Any:
        async with in_process_client(settings, database) as client:
            return await call(client)

    return asyncio.run(go())


def get(settings: Settings, database: Database, url: str) -> httpx.Response:
    async def call(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get(url)

    answer: httpx.Response = run(settings, database, call)
    return answer


def post_photo(
    settings: Settings, database: Database, url: str, data: bytes, field: str = "photo"
) -> httpx.Response:
    async def call(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(url, files={field: ("example.png", data)})

    answer: httpx.Response = run(settings, database, call)
    return answer


def banked_id(database: Database) -> int:
    create_bank(database, "test_bank", verified=True)
    return add_indicator(database, "test_bank", "pdq", BANKED).id


def assert_problem(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    assert body["code"] == code
    return body


# -- matching -------------------------------------------------------------------------------------


def test_lookup_of_a_banked_pdq_hash_answers_matches_by_bank(
    settings: Settings, database: Database
) -> None:
    ident = banked_id(database)
    # docs/api.md: curl "…/m/lookup?signal_type=pdq&signal=<hash>"
    answer = get(settings, database, f"/hma/m/lookup?signal_type=pdq&signal={BANKED}")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"test_bank": [{"bank_content_id": ident, "distance": "0"}]}


def test_lookup_of_a_near_pdq_hash_gives_its_distance_as_text(
    settings: Settings, database: Database
) -> None:
    ident = banked_id(database)
    near = flip_bits(BANKED, 6)
    answer = get(settings, database, f"/hma/m/lookup?signal_type=pdq&signal={near}")
    assert answer.json() == {"test_bank": [{"bank_content_id": ident, "distance": "6"}]}


def test_lookup_of_a_hash_in_no_bank_answers_an_empty_object(
    settings: Settings, database: Database
) -> None:
    banked_id(database)
    answer = get(settings, database, f"/hma/m/lookup?signal_type=pdq&signal={HMA_EXAMPLE}")
    assert answer.status_code == 200
    assert answer.json() == {}


def test_lookup_restricted_to_other_banks_finds_nothing(
    settings: Settings, database: Database
) -> None:
    banked_id(database)
    url = f"/hma/m/lookup?signal_type=pdq&signal={BANKED}&banks=other_bank"
    assert get(settings, database, url).json() == {}


def test_raw_lookup_answers_bank_content_ids(settings: Settings, database: Database) -> None:
    ident = banked_id(database)
    answer = get(settings, database, f"/hma/m/raw_lookup?signal_type=pdq&signal={BANKED}")
    assert answer.json() == {"matches": [ident]}


def test_raw_lookup_with_distance_answers_ids_and_distances(
    settings: Settings, database: Database
) -> None:
    ident = banked_id(database)
    url = f"/hma/m/raw_lookup?signal_type=pdq&signal={BANKED}&include_distance=true"
    assert get(settings, database, url).json() == {
        "matches": [{"bank_content_id": ident, "distance": "0"}]
    }


def test_lookup_of_a_malformed_hash_is_refused(settings: Settings, database: Database) -> None:
    answer = get(settings, database, "/hma/m/lookup?signal_type=pdq&signal=facade")
    assert_problem(answer, 422, "invalid_hash")


def test_lookup_by_upload_hashes_and_matches_each_signal_type(
    settings: Settings, database: Database
) -> None:
    make_bank(database, "test_bank", [KNOWN])
    # docs/api.md: curl -X POST --form photo='@example.png' …/m/lookup?bypass_coinflip=false
    answer = post_photo(settings, database, "/hma/m/lookup?bypass_coinflip=false", png(KNOWN))
    assert answer.status_code == 200, answer.text
    by_type = answer.json()
    assert set(by_type) == {"pdq", "md5", "sha1", "sha256"}
    assert list(by_type["pdq"]) == ["test_bank"]
    (match,) = by_type["pdq"]["test_bank"]
    assert set(match) == {"bank_content_id", "distance"}
    assert isinstance(match["distance"], str)
    assert by_type["sha256"] == {}


def test_compare_answers_match_and_distance_per_signal_type(
    settings: Settings, database: Database
) -> None:
    near = flip_bits(BANKED, 9)

    async def call(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/hma/m/compare", json={"pdq": [BANKED, near]})

    answer = run(settings, database, call)
    assert answer.json() == {"pdq": [True, {"distance": 9}]}


# -- hashing --------------------------------------------------------------------------------------


def test_hash_of_an_uploaded_photo_answers_signal_type_to_hash(
    settings: Settings, database: Database
) -> None:
    data = png(KNOWN)
    # docs/api.md: curl -X POST --form photo='@example.png' …/h/hash
    answer = post_photo(settings, database, "/hma/h/hash", data)
    assert answer.status_code == 200, answer.text
    hashes = answer.json()
    assert set(hashes) == {"pdq", "md5", "sha1", "sha256"}
    assert all(isinstance(value, str) for value in hashes.values())
    assert bin(int(hashes["pdq"], 16) ^ int(BANKED, 16)).count("1") <= 31


def test_hash_with_types_answers_only_those(settings: Settings, database: Database) -> None:
    answer = post_photo(settings, database, "/hma/h/hash?types=pdq", png(KNOWN))
    assert list(answer.json()) == ["pdq"]


def test_hash_of_a_url_is_refused_saying_tutela_fetches_no_urls(
    settings: Settings, database: Database
) -> None:
    # docs/api.md: curl …/h/hash?url=https://example.org/path/to/file.png
    answer = get(settings, database, "/hma/h/hash?url=https://example.org/path/to/file.png")
    body = assert_problem(answer, 400, "not_supported")
    assert "does not fetch content from URLs" in body["detail"]
    assert "multipart/form-data" in body["detail"]


def test_lookup_of_a_url_is_refused_saying_tutela_fetches_no_urls(
    settings: Settings, database: Database
) -> None:
    answer = get(settings, database, "/hma/m/lookup?url=https://example.org/file.png")
    assert_problem(answer, 400, "not_supported")


def test_an_upload_in_a_field_not_named_for_a_content_type_is_refused(
    settings: Settings, database: Database
) -> None:
    answer = post_photo(settings, database, "/hma/h/hash", png(KNOWN), field="picture")
    body = assert_problem(answer, 422, "invalid_input")
    assert "'photo'" in body["detail"]


# -- curation -------------------------------------------------------------------------------------


def test_banks_are_listed_with_their_matching_ratio(settings: Settings, database: Database) -> None:
    create_bank(database, "on_bank")
    create_bank(database, "off_bank")
    set_bank_enabled(database, "off_bank", False)
    assert get(settings, database, "/hma/c/banks").json() == [
        {"name": "off_bank", "matching_enabled_ratio": 0.0},
        {"name": "on_bank", "matching_enabled_ratio": 1.0},
    ]


def test_a_bank_is_shown_by_name_and_an_unknown_one_is_not_found(
    settings: Settings, database: Database
) -> None:
    create_bank(database, "on_bank")

    async def call(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        return await client.get("/hma/c/bank/on_bank"), await client.get("/hma/c/bank/no_bank")

    shown, unknown = run(settings, database, call)
    assert shown.json() == {"name": "on_bank", "matching_enabled_ratio": 1.0}
    assert_problem(unknown, 404, "not_found")


def test_bank_content_is_shown_with_its_signals_on_request(
    settings: Settings, database: Database
) -> None:
    ident = banked_id(database)
    url = f"/hma/c/bank/test_bank/content/{ident}?include_signals=true"
    assert get(settings, database, url).json() == {
        "id": ident,
        "disable_until_ts": 0,
        "original_media_uri": None,
        "bank": {"name": "test_bank", "matching_enabled_ratio": 1.0},
        "metadata": None,
        "note": None,
        "signals": {"pdq": BANKED},
    }


def test_bank_content_asked_under_another_bank_is_not_found(
    settings: Settings, database: Database
) -> None:
    ident = banked_id(database)
    create_bank(database, "other_bank")
    answer = get(settings, database, f"/hma/c/bank/other_bank/content/{ident}")
    assert_problem(answer, 404, "not_found")


def test_signal_types_are_listed_as_enabled(settings: Settings, database: Database) -> None:
    listed = get(settings, database, "/hma/c/signal_type").json()
    assert {"name": "pdq", "enabled_ratio": 1.0} in listed


def test_changing_a_bank_through_this_api_is_refused_as_curated_elsewhere(
    settings: Settings, database: Database
) -> None:
    async def call(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/hma/c/banks", json={"name": "NEW_BANK"})

    body = assert_problem(run(settings, database, call), 400, "not_supported")
    assert "role-checked and audited" in body["detail"]


# -- auth -----------------------------------------------------------------------------------------


def test_every_hma_route_needs_an_api_key(settings: Settings, database: Database) -> None:
    async def call(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get(
            f"/hma/m/lookup?signal_type=pdq&signal={BANKED}", headers={"Authorization": ""}
        )

    assert_problem(run(settings, database, call), 401, "unauthorized")
