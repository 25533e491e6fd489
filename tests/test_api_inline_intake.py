"""Uploads hashed at intake (tutela.api.intake): while the API's hashing pool keeps up, an upload
is decided before it is answered and its bytes are written only if it matched; beyond that, or
with the pool broken, it is queued for the detection workers as before."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Sequence

import httpx
import pytest
from sqlalchemy import func, select

from database_dump import every_cell
from provider_fixtures import drawn_image, in_process_client, jpeg, make_bank, make_key, png
from review_fixtures import jpeg_bytes, photo, with_vault
from tutela.api import intake as intake_module
from tutela.api.intake import Intake
from tutela.db.database import Database
from tutela.detection.hashing_service import HashingService, Result
from tutela.detection.held_payloads import held_content
from tutela.detection.items import get_item, upload_submission
from tutela.detection.models import ItemPayload, Job
from tutela.errors import ConfigurationError
from tutela.indicators.matcher import Matcher
from tutela.master_key import configured_master_key
from tutela.settings import Settings
from tutela.signals.hashing import pdq_of_bytes
from tutela.signals.pdq import PdqMode


async def post_items(
    settings: Settings, database: Database, uploads: Sequence[tuple[str, bytes]], key: str = ""
) -> list[httpx.Response]:
    """POST each upload to `/v1/items` at once, through the app in process (lifespan run)."""
    async with in_process_client(settings, database, key) as client:
        return list(
            await asyncio.gather(
                *(
                    client.post(
                        "/v1/items",
                        files={"file": ("upload.jpg", data)},
                        data={"metadata": json.dumps({"item_id": item_id})},
                    )
                    for item_id, data in uploads
                )
            )
        )


def count(database: Database, table: type[ItemPayload] | type[Job]) -> int:
    with database.reader() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def distinctive(data: bytes) -> bytes:
    """32 bytes from the middle of a JPEG: entropy-coded, found nowhere by chance."""
    return data[len(data) // 2 : len(data) // 2 + 32]


def test_uploads_that_match_nothing_are_decided_before_the_answer_and_never_stored(
    settings: Settings, database: Database
) -> None:
    make_bank(database, "known", [photo("astronaut")])
    uploads = [(f"plain-{i}", jpeg(drawn_image(i))) for i in range(6)]
    answers = asyncio.run(post_items(settings, database, uploads))
    assert [a.status_code for a in answers] == [202] * len(uploads)
    assert {a.json()["status"] for a in answers} == {"done"}
    for answer in answers:
        view = get_item(database, answer.json()["id"])
        assert view.verdict == "no_match" and view.case_id is None
        # Received before it was hashed: the latency metric counts the hashing too.
        assert view.decided_at is not None and view.created_at < view.decided_at
    assert count(database, Job) == 0
    assert count(database, ItemPayload) == 0
    cells = b"\n".join(every_cell(database))
    assert not any(distinctive(data) in cells for _, data in uploads)


def test_a_matching_upload_is_decided_at_once_and_held_sealed_for_review(
    settings: Settings, database: Database
) -> None:
    keyed = with_vault(settings)
    make_bank(database, "known", [photo("astronaut")])
    data = jpeg_bytes(photo("astronaut"), quality=70)  # a re-encoded copy
    [answer] = asyncio.run(post_items(keyed, database, [("copy", data)]))
    assert answer.status_code == 202 and answer.json()["status"] == "done"
    view = get_item(database, answer.json()["id"])
    assert view.verdict == "review" and view.case_id is not None
    assert view.matches and view.matches[0]["bank"] == "known"
    assert count(database, Job) == 0
    with database.reader() as session:
        payload = session.get(ItemPayload, view.id)
        assert payload is not None and payload.key_id is not None  # sealed, not plaintext
        assert held_content(session, view.id, configured_master_key(keyed)) == data
    assert not any(distinctive(data) in cell for cell in every_cell(database))


def test_a_repeated_item_id_with_the_same_bytes_answers_with_the_first_item(
    settings: Settings, database: Database
) -> None:
    key = make_key(database)
    data = jpeg(drawn_image(1))
    [first] = asyncio.run(post_items(settings, database, [("same", data)], key))
    [again] = asyncio.run(post_items(settings, database, [("same", data)], key))
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == first.json()


def test_with_a_depth_of_zero_every_upload_is_queued_for_the_workers(
    settings: Settings, database: Database
) -> None:
    queued = dataclasses.replace(settings, inline_hashing_depth=0)
    uploads = [(f"queued-{i}", jpeg(drawn_image(i))) for i in range(3)]
    answers = asyncio.run(post_items(queued, database, uploads))
    assert {a.json()["status"] for a in answers} == {"queued"}
    assert count(database, Job) == 3 and count(database, ItemPayload) == 3


class FakeHashing:
    """Stands for a HashingService: as busy, or as broken, as a test says."""

    def __init__(self, *, waiting: int = 0, working: bool = True) -> None:
        self.waiting = waiting
        self.working = working
        self.hashed = 0

    async def hash(self, data: bytes, *, exact: bool = False, robust: bool = False) -> Result:
        self.hashed += 1
        raise ConfigurationError("the hashing pool stopped")


@pytest.mark.parametrize(
    ("waiting", "working"),
    [(4, True), (0, False), (0, True)],
    ids=["pool-busy", "pool-broken", "pool-breaks-meanwhile"],
)
def test_uploads_go_to_the_queue_when_the_pool_is_busy_or_broken(
    database: Database, waiting: int, working: bool
) -> None:
    """Accepted either way, never refused: beyond the limit, or when hashing fails, it queues."""
    hashing = FakeHashing(waiting=waiting, working=working)
    intake = Intake(database, Matcher(database), hashing, inline_limit=4)  # type: ignore[arg-type]
    submission = upload_submission("burst", {"item_id": "burst"}, jpeg(drawn_image(3)))
    accepted = asyncio.run(intake.accept(submission))
    assert accepted.status == "queued" and accepted.created
    assert hashing.hashed == (1 if hashing.working and hashing.waiting < 4 else 0)
    assert count(database, Job) == 1 and count(database, ItemPayload) == 1


def test_hash_only_submissions_are_matched_and_decided_at_intake(
    settings: Settings, database: Database
) -> None:
    banked = drawn_image(5)
    make_bank(database, "known", [banked])
    known_pdq = pdq_of_bytes(png(banked), mode=PdqMode.EXACT).hash

    async def submit() -> list[httpx.Response]:
        async with in_process_client(settings, database) as client:
            bodies = [
                {"metadata": {"item_id": "known"}, "signals": {"pdq": known_pdq}},
                {"metadata": {"item_id": "unknown"}, "signals": {"md5": "0" * 32}},
            ]
            return [await client.post("/v1/items", json=body) for body in bodies]

    known, unknown = asyncio.run(submit())
    assert known.json()["status"] == unknown.json()["status"] == "done"
    view = get_item(database, known.json()["id"])
    assert view.verdict == "review" and view.case_id is not None
    assert view.matches[0]["distance"] == 0
    assert get_item(database, unknown.json()["id"]).verdict == "no_match"
    assert count(database, Job) == 0 and count(database, ItemPayload) == 0


def test_an_upload_too_big_to_hand_over_cheaply_is_queued(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intake_module, "INLINE_MAX_BYTES", 1000)
    hashing = FakeHashing()
    intake = Intake(database, Matcher(database), hashing, inline_limit=4)  # type: ignore[arg-type]
    big = upload_submission("big", {"item_id": "big"}, jpeg(drawn_image(3)))
    assert big.size > 1000
    assert asyncio.run(intake.accept(big)).status == "queued"
    assert hashing.hashed == 0


def test_a_node_whose_hashing_pool_broke_is_not_ready_but_still_accepts_uploads(
    settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        async with in_process_client(settings, database) as client:
            ready = await client.get("/readyz")
            monkeypatch.setattr(HashingService, "working", property(lambda _: False))
            upload = await client.post(
                "/v1/items",
                files={"file": ("upload.jpg", jpeg(drawn_image(4)))},
                data={"metadata": json.dumps({"item_id": "during"})},
            )
            return ready, await client.get("/readyz"), upload

    ready, broken, upload = asyncio.run(scenario())
    assert ready.status_code == 200
    assert broken.status_code == 503 and broken.json()["code"] == "not_ready"
    assert upload.status_code == 202 and upload.json()["status"] == "queued"
