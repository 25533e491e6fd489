"""Detection orders gate detection (Art 7-11): an authority's signed detection order for known
material on a service part is taken by the provider, and from then on uploads to that part are
matched under it, uploads to other parts are `no_match` / `not_under_order` without being hashed,
and the order's end stops its detection on the minute. A voluntary basis is an administrator's
audited act; bad orders are problem+json answers with nothing written.

Every upload is a drawn picture (DESIGN ground rule 1); names are placeholders."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from conftest import POSTGRES_ENV, fresh_postgres_database
from order_fixtures import PROVIDER, authority_key
from provider_fixtures import drawn_image, jpeg, make_key
from tutela.audit.log import list_entries
from tutela.audit.models import AuditEntry
from tutela.auth.users import create_user
from tutela.authority.detection_issuing import issue_detection_order
from tutela.authority.issuing import Issuer
from tutela.authority.providers import add_provider
from tutela.centre.order_copies import receive_order_copy
from tutela.clock import FixedClock
from tutela.db.database import Database, open_database
from tutela.detection.bases import (
    CACHE_FOR,
    DetectionGate,
    clear_voluntary_basis,
    list_bases,
    set_voluntary_basis,
)
from tutela.detection.basis_models import DetectionBasis
from tutela.detection.hasher import Hasher
from tutela.detection.items import accept_signals, get_item
from tutela.detection.kinds import DetectionKind
from tutela.detection.models import Case, Item, ItemMatch
from tutela.detection.pipeline import process_batch
from tutela.errors import Conflict, Forbidden, InvalidInput, Unauthorized
from tutela.indicators.banks import create_bank
from tutela.indicators.ledger import add_indicator
from tutela.indicators.matcher import Matcher
from tutela.media.limits import MediaLimits
from tutela.messaging.messages import SignedMessage, sign_message
from tutela.messaging.outbox_models import OutboxMessage
from tutela.messaging.signing import SigningKey, SigningWindow, generate_key_file
from tutela.nodes.provider import create_app
from tutela.orders.authority_keys import add_authority_key
from tutela.orders.detection_documents import DETECTION_KIND, add_months, check_period
from tutela.orders.models import ReceivedOrder
from tutela.orders.receiving import OrderRules, receive_order
from tutela.review.report_input import basis_of_evidence
from tutela.settings import Settings
from tutela.signals.hashing import pdq_of_bytes
from tutela.signals.pdq import PdqMode

AUTHORITY = "Example Coordinating Authority"
PASSWORD = "placeholder-passphrase-for-tests"
ISSUER = Issuer(
    AUTHORITY, "orders@authority.example", "NL", "http://authority.example", "http://centre.example"
)
PICTURE = drawn_image(7, size=128)


def now() -> datetime:
    return datetime.now(UTC)


# --- the two nodes ------------------------------------------------------------------------


@pytest.fixture
def authority_db(settings: Settings, tmp_path: Path) -> Iterator[Database]:
    """The authority node's own database, of the same kind as the provider's."""
    server = os.environ.get(POSTGRES_ENV)
    if settings.database_url and server:
        with fresh_postgres_database(server) as url:
            opened = open_database(Settings(data_dir=tmp_path / "authority", database_url=url))
            try:
                yield opened
            finally:
                opened.close()
        return
    opened = open_database(Settings(data_dir=tmp_path / "authority"))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def authority(authority_db: Database, database: Database, tmp_path: Path) -> SigningKey:
    """An authority that orders the provider (services photos and chat) and whose key the
    provider trusts; the provider's administrator admin-1."""
    create_user(authority_db, "admin-1", PASSWORD, ["administrator"], actor="test")
    create_user(authority_db, "officer-1", PASSWORD, ["case_officer"], actor="test")
    provider_key = generate_key_file(tmp_path / "provider.pem")
    add_provider(
        authority_db,
        "admin-1",
        PROVIDER,
        provider_key.public_key_pem(),
        "http://provider.example/v1/orders",
        "NL",
        ["photos", "chat"],
    )
    key = authority_key(tmp_path)
    add_authority_key(database, "cli:test", AUTHORITY, key.public_key_pem())
    create_user(database, "admin-1", PASSWORD, ["administrator"], actor="test")
    create_user(database, "reviewer-1", PASSWORD, ["reviewer"], actor="test")
    return key


def orders_only(database: Database) -> None:
    """The provider clears the default voluntary basis: it detects only under orders."""
    (default,) = list_bases(database)
    assert (default.basis.set_by, default.basis.service) == ("installation", "*")
    clear_voluntary_basis(database, "admin-1", default.basis.id)


def centre_bank(database: Database) -> None:
    """A bank the Centre's feed keeps (source eu-centre), holding the picture's PDQ."""
    create_bank(database, "centre-known", source="eu-centre", verified=True)
    value = pdq_of_bytes(jpeg(PICTURE), mode=PdqMode.EXACT).hash
    add_indicator(database, "centre-known", "pdq", value)


def issue(
    authority_db: Database, key: SigningKey, ends_at: datetime, **changes: Any
) -> dict[str, Any]:
    """Issue a detection order for known material on `photos`; the outbox payload to the
    provider (a signed document and where it goes)."""
    arguments: dict[str, Any] = {
        "services": ["photos"],
        "kinds": ["known"],
        "safeguards": "Placeholder safeguards: human review of every match.",
        "reasons": "Placeholder reasons for a test order.",
        **changes,
    }
    view = issue_detection_order(
        authority_db,
        "officer-1",
        PROVIDER,
        arguments.pop("services"),
        arguments.pop("kinds"),
        ends_at,
        arguments.pop("safeguards"),
        arguments.pop("reasons"),
        ISSUER,
        key,
        **arguments,
    )
    with authority_db.reader() as session:
        payloads = {
            m.idempotency_key: dict(m.payload) for m in session.scalars(select(OutboxMessage))
        }
    return payloads[view.order_id]


def signed(payload: dict[str, Any]) -> SignedMessage:
    return SignedMessage(payload["body"].encode(), payload["signature"], payload["key_id"])


@asynccontextmanager
async def provider(
    settings: Settings, database: Database, clock: FixedClock
) -> AsyncIterator[httpx.AsyncClient]:
    """The provider app in process, its detection bases in force by `clock`."""
    app = create_app(settings, database=database, hash_workers=1, clock=clock)
    headers = {"Authorization": f"Bearer {make_key(database, f'platform-{uuid.uuid4().hex}')}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://node", headers=headers
        ) as client,
    ):
        yield client


async def deliver(client: httpx.AsyncClient, message: SignedMessage) -> httpx.Response:
    return await client.post("/v1/orders", content=message.body, headers=message.headers("k-1"))


async def upload(client: httpx.AsyncClient, item_id: str, service: str | None) -> dict[str, Any]:
    metadata = {"item_id": item_id, **({"service": service} if service else {})}
    answer = await client.post(
        "/v1/items",
        files={"file": ("upload.jpg", jpeg(PICTURE))},
        data={"metadata": json.dumps(metadata)},
    )
    assert answer.status_code in (200, 202), answer.text
    for _ in range(200):
        view = (await client.get(f"/v1/items/{answer.json()['id']}")).json()
        if view["status"] == "done":
            return dict(view)
        await asyncio.sleep(0.05)
    raise AssertionError("the upload was not decided")


# --- the scenario of issue 14 ---------------------------------------------------------------


def test_a_detection_order_for_photos_matches_uploads_to_photos_not_chat_and_ends_on_time(
    settings: Settings, database: Database, authority_db: Database, authority: SigningKey
) -> None:
    orders_only(database)
    centre_bank(database)
    ends_at = now() + timedelta(days=30)
    payload = issue(authority_db, authority, ends_at)
    clock = FixedClock(now())

    async def run() -> tuple[httpx.Response, list[dict[str, Any]]]:
        async with provider(settings, database, clock) as client:
            taken = await deliver(client, signed(payload))
            views = [
                await upload(client, "before-x", "photos"),
                await upload(client, "to-y", "chat"),
                await upload(client, "unnamed", None),
            ]
            clock.set(ends_at + timedelta(seconds=1))
            views.append(await upload(client, "after-end", "photos"))
            return taken, views

    taken, (on_x, on_y, unnamed, after) = asyncio.run(run())
    assert taken.status_code == 201, taken.text
    assert taken.json()["kind"] == "detection" and taken.json()["kinds"] == ["known"]
    order_ref = taken.json()["order_id"]
    assert on_x["verdict"] == "review" and on_x["reason"] is None
    assert on_x["basis"]["source"] == "order" and on_x["basis"]["order_id"] == order_ref
    assert [m["basis_id"] for m in on_x["matches"]] == [on_x["basis"]["id"]]
    for view in (on_y, unnamed, after):
        assert (view["verdict"], view["reason"], view["matches"]) == (
            "no_match",
            "not_under_order",
            [],
        )
    with database.reader() as session:
        # Nothing of the ungated uploads was hashed: no signals, no match rows.
        for view in (on_y, unnamed, after):
            assert get_item(database, view["id"]).matches == []
            assert (
                session.scalar(
                    select(func.count())
                    .select_from(ItemMatch)
                    .where(ItemMatch.item_id == view["id"])
                )
                == 0
            )
        stored = session.get(ReceivedOrder, taken.json()["id"])
        assert stored is not None and stored.kind == "detection"
        case = session.scalar(select(Case).where(Case.item_id == on_x["id"]))
        assert case is not None
        # The case's evidence, and so the report to the Centre, names the order.
        basis = basis_of_evidence(case.evidence)
        assert basis is not None and basis["order_id"] == order_ref
    with database.reader() as session:
        for view in (on_y, unnamed, after):
            item = session.get(Item, view["id"])
            assert item is not None and item.signals is None


def test_the_centre_keeps_its_copy_of_a_detection_order(
    database: Database, authority_db: Database, authority: SigningKey
) -> None:
    issue(authority_db, authority, now() + timedelta(days=10))
    with authority_db.reader() as session:
        (copy,) = [
            dict(m.payload)
            for m in session.scalars(select(OutboxMessage))
            if m.payload["url"] == "http://centre.example/v1/orders"
        ]
    message = signed(copy)
    window = SigningWindow()
    answer, created = receive_order_copy(
        database, message.key_id, message.body, message.signature, now(), window
    )
    again, repeated = receive_order_copy(
        database, message.key_id, message.body, message.signature, now(), window
    )
    assert created and not repeated and answer == again


# --- the pipeline's gate and its clock -------------------------------------------------------


def decide(database: Database, gate: DetectionGate, item_id: str, service: str) -> Any:
    """A hash-only item of `service` holding the picture's PDQ, through the worker's pipeline."""
    value = pdq_of_bytes(jpeg(PICTURE), mode=PdqMode.EXACT).hash
    ident = accept_signals(
        database, item_id, {"item_id": item_id, "service": service}, {"pdq": value}
    ).id
    hasher = Hasher(MediaLimits(), workers=1)  # never entered: hash-only items need no hashing
    process_batch(database, hasher, Matcher(database), worker="t", limit=10, lease_s=60, gate=gate)
    return get_item(database, ident)


def test_a_cleared_voluntary_basis_stops_the_worker_within_a_minute(
    database: Database, authority: SigningKey
) -> None:
    orders_only(database)
    centre_bank(database)
    clock = FixedClock(now())
    basis = set_voluntary_basis(
        database, "admin-1", "photos", "Placeholder: interim regulation", clock=clock
    )
    gate = DetectionGate(database, clock)
    assert decide(database, gate, "a", "photos").verdict == "review"
    assert decide(database, gate, "b", "chat").reason == "not_under_order"
    clear_voluntary_basis(database, "admin-1", basis.basis.id, clock=clock)
    clock.advance(CACHE_FOR - timedelta(seconds=1))
    # Read before the clearing, less than a minute ago: the worker may still match.
    assert decide(database, gate, "c", "photos").verdict == "review"
    clock.advance(timedelta(seconds=1))
    late = decide(database, gate, "d", "photos")
    assert (late.verdict, late.reason) == ("no_match", "not_under_order")


def test_an_order_ending_stops_detection_on_the_minute_whatever_the_cache(
    database: Database, authority_db: Database, authority: SigningKey
) -> None:
    orders_only(database)
    centre_bank(database)
    start = now()
    ends_at = start + timedelta(hours=2)
    message = signed(issue(authority_db, authority, ends_at))
    window = SigningWindow()
    receive_order(
        database,
        message.key_id,
        message.body,
        message.signature,
        now(),
        OrderRules(window, timedelta(hours=24), provider_name=PROVIDER),
    )
    clock = FixedClock(ends_at - timedelta(seconds=30))
    gate = DetectionGate(database, clock)
    before = decide(database, gate, "a", "photos")
    assert before.verdict == "review" and before.basis is not None
    assert before.basis["source"] == "order"
    clock.set(ends_at)  # 30 seconds on: the bases read then are still cached
    after = decide(database, gate, "b", "photos")
    assert (after.verdict, after.reason) == ("no_match", "not_under_order")


def test_under_an_order_only_the_centres_banks_match_unless_a_voluntary_basis_covers_others(
    database: Database, authority_db: Database, authority: SigningKey
) -> None:
    orders_only(database)
    centre_bank(database)
    create_bank(database, "own-list", verified=True)
    add_indicator(database, "own-list", "pdq", pdq_of_bytes(jpeg(PICTURE), mode=PdqMode.EXACT).hash)
    message = signed(issue(authority_db, authority, now() + timedelta(days=1)))
    window = SigningWindow()
    rules = OrderRules(window, timedelta(hours=24), provider_name=PROVIDER)
    receive_order(database, message.key_id, message.body, message.signature, now(), rules)
    clock = FixedClock(now())
    gate = DetectionGate(database, clock)
    only_order = decide(database, gate, "a", "photos")
    assert [m["bank"] for m in only_order.matches] == ["centre-known"]
    voluntary = set_voluntary_basis(
        database, "admin-1", "photos", "Placeholder: own lists", clock=clock
    )
    gate.invalidate()
    both = decide(database, gate, "b", "photos")
    by_bank = {str(m["bank"]): m["basis_id"] for m in both.matches}
    assert by_bank["own-list"] == voluntary.basis.id
    assert both.basis is not None and by_bank["centre-known"] == both.basis["id"]


# --- voluntary bases ----------------------------------------------------------------------------


def test_a_voluntary_basis_is_an_administrators_audited_act(
    database: Database, authority: SigningKey
) -> None:
    with pytest.raises(Forbidden):
        set_voluntary_basis(database, "reviewer-1", "photos", "Placeholder")
    with pytest.raises(Unauthorized):
        set_voluntary_basis(database, "nobody", "photos", "Placeholder")
    view = set_voluntary_basis(database, "admin-1", "photos", "Placeholder reason")
    with pytest.raises(Conflict):
        set_voluntary_basis(database, "admin-1", "photos", "Again")
    with database.reader() as session:
        (entry,) = list_entries(session, action="detection_basis_set")
    assert entry.actor == view.basis.set_by and entry.actor.startswith("user:")
    assert entry.details["service"] == "photos"
    clear_voluntary_basis(database, "admin-1", view.basis.id)
    with pytest.raises(Conflict):
        clear_voluntary_basis(database, "admin-1", view.basis.id)


def test_a_new_database_has_the_default_basis_and_an_empty_audit_log(database: Database) -> None:
    (default,) = list_bases(database)
    assert (default.basis.source, default.basis.service, default.basis.kind) == (
        "voluntary",
        "*",
        "known",
    )
    with database.reader() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_an_orders_bases_cannot_be_cleared_by_the_provider(
    database: Database, authority_db: Database, authority: SigningKey
) -> None:
    message = signed(issue(authority_db, authority, now() + timedelta(days=1)))
    window = SigningWindow()
    rules = OrderRules(window, timedelta(hours=24), provider_name=PROVIDER)
    receive_order(database, message.key_id, message.body, message.signature, now(), rules)
    with database.reader() as session:
        ordered = session.scalar(select(DetectionBasis.id).where(DetectionBasis.source == "order"))
    assert ordered is not None
    with pytest.raises(Conflict):
        clear_voluntary_basis(database, "admin-1", ordered)


# --- bad orders -------------------------------------------------------------------------------


def written(database: Database) -> tuple[int, int, int]:
    """Rows an order could have written: orders, detection bases, audit entries of receipts."""
    with database.reader() as session:
        received = select(func.count()).where(AuditEntry.action == "order_received")
        return (
            session.scalar(select(func.count()).select_from(ReceivedOrder)) or 0,
            session.scalar(select(func.count()).select_from(DetectionBasis)) or 0,
            session.scalar(received) or 0,
        )


def post_all(
    settings: Settings, database: Database, *messages: SignedMessage
) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        async with provider(settings, database, FixedClock(now())) as client:
            return [await deliver(client, m) for m in messages]

    return asyncio.run(run())


def document(payload: dict[str, Any]) -> dict[str, Any]:
    inner: dict[str, Any] = json.loads(payload["body"])["payload"]
    return inner


def resigned(key: SigningKey, payload: dict[str, Any], **changes: Any) -> SignedMessage:
    """The order's document with `changes` (None removes a field), signed again by `key`."""
    changed = {**document(payload), **changes}
    changed = {name: value for name, value in changed.items() if value is not None}
    return sign_message(key, DETECTION_KIND, changed["order_id"], changed, now())


def test_bad_detection_orders_are_problems_with_nothing_written(
    settings: Settings,
    database: Database,
    authority_db: Database,
    authority: SigningKey,
    tmp_path: Path,
) -> None:
    payload = issue(authority_db, authority, now() + timedelta(days=1))
    good = signed(payload)
    stranger = authority_key(tmp_path, "stranger")
    # The body of another order under this one's signature.
    other = signed(issue(authority_db, authority, now() + timedelta(days=2)))
    forged = SignedMessage(other.body, good.signature, good.key_id)
    too_long = document(payload)["starts_at"]
    cases = [
        (forged, 401),
        (resigned(stranger, payload), 401),
        (resigned(authority, payload, safeguards=None), 422),
        (resigned(authority, payload, kinds=["known", "telepathy"]), 422),
        (
            resigned(
                authority,
                payload,
                ends_at=add_months(datetime.fromisoformat(too_long), 25).isoformat(),
            ),
            422,
        ),
        (resigned(authority, payload, items=[{"ref": "1", "service": "video"}]), 422),
    ]
    before = written(database)
    scoped = Settings(
        data_dir=settings.data_dir,
        database_url=settings.database_url,
        provider_services=("photos", "chat"),
    )
    answers = post_all(scoped, database, *(message for message, _ in cases))
    for answer, (_, status) in zip(answers, cases, strict=True):
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
    assert answers[2].json()["code"] == "incomplete_order"
    assert "safeguards" in answers[2].json()["detail"]
    assert written(database) == before
    first, repeated = post_all(scoped, database, good, good)
    assert first.status_code == repeated.status_code == 201
    assert repeated.headers["idempotent-replayed"] == "true"
    assert first.json() == repeated.json()
    after = written(database)
    assert after == (before[0] + 1, before[1] + 1, before[2] + 1)


@pytest.mark.parametrize(
    ("kinds", "months", "allowed"),
    [
        ((DetectionKind.KNOWN,), 24, True),
        ((DetectionKind.KNOWN,), 25, False),
        ((DetectionKind.SOLICITATION,), 12, True),
        ((DetectionKind.KNOWN, DetectionKind.SOLICITATION), 13, False),
    ],
)
def test_a_detection_order_lasts_at_most_24_months_12_for_solicitation(
    kinds: tuple[DetectionKind, ...], months: int, allowed: bool
) -> None:
    start = datetime(2025, 8, 31, 12, tzinfo=UTC)
    end = add_months(start, months)
    if allowed:
        check_period(start, start, end, kinds)
    else:
        with pytest.raises(InvalidInput):
            check_period(start, start, end, kinds)


def test_months_are_counted_by_the_calendar() -> None:
    assert add_months(datetime(2025, 8, 31, tzinfo=UTC), 6) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2024, 2, 29, tzinfo=UTC), 24) == datetime(2026, 2, 28, tzinfo=UTC)
