"""The provider's compliance documents reach its Coordinating Authority: the signed Art 5 risk
report and the yearly figures are queued in the provider's outbox, delivered over real HTTP by
the `orders` transport to the authority node, verified there against the provider's registered
key and stored once; bad input is refused with problem+json and nothing written; the authority
reads them per provider in its console and exports the provider's compliance record as one
signed file (console and CLI). Separate provider and authority databases, SQLite and PostgreSQL.
Placeholder names only."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from blocking_fixtures import served
from conftest import POSTGRES_ENV, fresh_postgres_database
from password_hashing import cheap_argon2  # noqa: F401  (a fixture)
from test_authority_console import (
    PROVIDER,
    authority_settings,
    client_of,
    set_up_authority,
    sign_in,
)
from test_risk_figures import NOW
from test_risk_versions import OFFICER, POLICY, add_officer_and_reviewer, signed_off_chat
from transparency_seed import PERSONAL, seed_node
from transparency_seed import YEAR as SEED_YEAR
from tutela.audit.log import Action, list_entries
from tutela.authority.compliance_models import ComplianceDocument
from tutela.authority.compliance_record import verify_record
from tutela.authority.issuing import Issuer, issue_removal_order
from tutela.authority.reports import receive_execution_report
from tutela.cli import main
from tutela.clock import FixedClock, SystemClock
from tutela.compliance.documents import (
    COMPLIANCE_PATH,
    RISK_REPORT,
    YEARLY_FIGURES,
    figures_key,
    risk_report_key,
    without_floats,
)
from tutela.compliance.sending import (
    QueuedDocument,
    compliance_endpoint,
    send_risk_report,
    send_yearly_figures,
)
from tutela.db.database import Database, open_database
from tutela.errors import ConfigurationError
from tutela.messaging.messages import open_message, sign_message
from tutela.messaging.outbox import deliver_due
from tutela.messaging.outbox_models import OutboxMessage
from tutela.messaging.signing import (
    SigningKey,
    SigningWindow,
    default_key_file,
    generate_key_file,
)
from tutela.nodes.authority import create_authority_app
from tutela.orders.documents import REPORT_KIND, ItemOutcome, execution_report
from tutela.orders.states import ItemState
from tutela.orders.transport import ORDERS, OrdersTransport
from tutela.reporting.fields import ProviderIdentity
from tutela.settings import Settings
from tutela.transparency.periods import Year
from tutela.transparency.provider_figures import provider_figures

pytestmark = pytest.mark.usefixtures("cheap_argon2")
IDENTITY = ProviderIdentity(PROVIDER, "Example Legal Rep GmbH", "trust@example.org", "NL")


@dataclass
class World:
    provider_db: Database
    provider_key: SigningKey
    authority_db: Database
    authority_settings: Settings
    authority_key: SigningKey
    app: FastAPI


@pytest.fixture
def authority_node(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The authority's own data directory and database, of the same kind as the provider's."""
    data_dir = tmp_path / "authority"
    if not settings.database_url:
        yield Settings(data_dir=data_dir)
        return
    with fresh_postgres_database(os.environ[POSTGRES_ENV]) as url:
        yield Settings(data_dir=data_dir, database_url=url)


@pytest.fixture
def authority_database(authority_node: Settings) -> Iterator[Database]:
    opened = open_database(authority_node)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def world(
    database: Database,
    authority_node: Settings,
    authority_database: Database,
    tmp_path: Path,
) -> World:
    """A provider with a signed-off assessment and its key; the authority that registered it."""
    add_officer_and_reviewer(database)
    signed_off_chat(database, FixedClock(NOW))
    provider_key = generate_key_file(tmp_path / "provider.pem")
    configured = authority_settings(authority_node, "http://authority.example")
    authority_key = set_up_authority(authority_database, configured, provider_key)
    app = create_authority_app(configured, authority_database)
    return World(database, provider_key, authority_database, configured, authority_key, app)


def documents(world: World) -> list[ComplianceDocument]:
    with world.authority_db.reader() as session:
        return list(session.scalars(select(ComplianceDocument).order_by(ComplianceDocument.id)))


def outbox(database: Database) -> list[OutboxMessage]:
    with database.reader() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def send_report(world: World, url: str) -> QueuedDocument:
    return send_risk_report(
        world.provider_db,
        OFFICER,
        world.provider_key,
        IDENTITY,
        POLICY,
        url + COMPLIANCE_PATH,
        clock=SystemClock(),
    )


def post(world: World, *requests: tuple[bytes, dict[str, str]]) -> list[httpx.Response]:
    """POST each signed document to the authority app, in turn, over its ASGI interface."""

    async def work() -> list[httpx.Response]:
        async with client_of(world.app) as client:
            return [
                await client.post(COMPLIANCE_PATH, content=body, headers=headers)
                for body, headers in requests
            ]

    return asyncio.run(work())


def deliver(world: World) -> None:
    with httpx.Client(timeout=10) as client:
        run = deliver_due(world.provider_db, {ORDERS: OrdersTransport(client)}, datetime.now(UTC))
    assert run.failed == [] and run.retrying == []


def test_an_art5_report_travels_through_the_outbox_and_is_stored_verified_once(
    world: World,
) -> None:
    with served(world.app) as url:
        queued = send_report(world, url)
        deliver(world)

    (stored,) = documents(world)
    assert (stored.kind, stored.service, stored.version) == (RISK_REPORT, "Example Social", 1)
    assert stored.document_ref == queued.document_ref == risk_report_key("Example Social", 1)
    message = open_message(
        world.provider_key.private_key.public_key(),
        world.provider_key.key_id,
        stored.body.encode(),
        stored.signature,
    )
    assert message.payload["assessment"]["parts"][0]["score"]["level"] == "high"
    (sent,) = outbox(world.provider_db)
    assert sent.status == "acknowledged" and sent.remote_ref == str(stored.id)


def test_sending_the_same_version_again_queues_and_stores_nothing_new(world: World) -> None:
    with served(world.app) as url:
        first = send_report(world, url)
        deliver(world)
        again = send_report(world, url)
        deliver(world)

    assert again.message_id == first.message_id
    assert len(outbox(world.provider_db)) == 1 and len(documents(world)) == 1


def test_a_repeated_delivery_is_answered_as_the_first_and_stores_nothing(world: World) -> None:
    send_report(world, "http://authority.example")
    (message,) = outbox(world.provider_db)
    body = message.payload["body"].encode()
    headers = {
        "Content-Type": "application/json",
        "Tutela-Key-Id": message.payload["key_id"],
        "Tutela-Signature": message.payload["signature"],
        "Idempotency-Key": message.idempotency_key,
    }
    first, second = post(world, (body, headers), (body, headers))

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(documents(world)) == 1


def test_yearly_figures_arrive_marked_complete_once_their_year_is_over(world: World) -> None:
    year = datetime.now(UTC).year
    with served(world.app) as url:
        for sent_year in (year - 1, year):
            send_figures(world, sent_year, url)
        deliver(world)

    stored = {d.year: d for d in documents(world)}
    assert set(stored) == {year - 1, year}
    for sent_year, complete in ((year - 1, True), (year, False)):
        payload = json.loads(stored[sent_year].body)["payload"]
        assert stored[sent_year].kind == YEARLY_FIGURES
        assert payload["complete"] is complete
        assert payload["figures"]["kind"] == "provider"
        assert payload["figures"]["year"] == sent_year
        assert stored[sent_year].document_ref == figures_key(sent_year, payload["figures"])
    with world.provider_db.reader() as session:
        exports = list_entries(session, action=Action.EXPORT)
    assert {e.details.get("purpose") for e in exports} >= {"send to the authority"}


def test_the_figures_arrive_with_their_measured_error_rates_and_no_personal_data(
    world: World,
) -> None:
    seed_node(world.provider_db)
    with world.provider_db.reader() as session:
        expected = provider_figures(session, Year.of(SEED_YEAR))
    with served(world.app) as url:
        send_figures(world, SEED_YEAR, url)
        deliver(world)

    (stored,) = documents(world)
    figures = json.loads(stored.body)["payload"]["figures"]
    assert figures["decisions"] == without_floats(expected["decisions"])
    rates = {
        (r["bank"], r["signal_type"], r["distance_band"]): r["judged_not_abuse"]
        for r in figures["error_rates"]
    }
    for row in expected["error_rates"]:
        share = rates[(row["bank"], row["signal_type"], row["distance_band"])]
        assert share["count"] == row["judged_not_abuse"]["count"]
        if row["judged_not_abuse"]["rate"] is not None:
            assert float(share["rate"]) == row["judged_not_abuse"]["rate"]
    assert any(share["rate"] is not None for share in rates.values())
    assert not [p for p in PERSONAL if p in stored.body]


def send_figures(world: World, year: int, url: str) -> QueuedDocument:
    return send_yearly_figures(
        world.provider_db,
        year,
        world.provider_key,
        IDENTITY,
        url + COMPLIANCE_PATH,
        actor="cli:test",
        clock=SystemClock(),
    )


def test_sending_needs_the_coordinating_authority_url(settings: Settings) -> None:
    with pytest.raises(ConfigurationError, match="TUTELA_COORDINATING_AUTHORITY_URL"):
        compliance_endpoint(settings)
    configured = dataclasses.replace(
        settings, coordinating_authority_url="https://authority.example/"
    )
    assert compliance_endpoint(configured) == "https://authority.example" + COMPLIANCE_PATH


# Bad input: each refused with problem+json, nothing written.


def signed(
    key: SigningKey,
    payload: dict[str, Any],
    *,
    kind: str = RISK_REPORT,
    ref: str | None = None,
    at: datetime | None = None,
) -> tuple[bytes, dict[str, str]]:
    ref = ref or risk_report_key(str(payload.get("service")), int(payload.get("version") or 1))
    message = sign_message(key, kind, ref, payload, at or datetime.now(UTC))
    return message.body, message.headers(ref)


def report_payload(world: World) -> dict[str, Any]:
    send_report(world, "http://authority.example")
    (message,) = outbox(world.provider_db)
    payload: dict[str, Any] = json.loads(message.payload["body"])["payload"]
    return payload


def refused(world: World, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    (answer,) = post(world, (body, headers))
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert documents(world) == []
    problem: dict[str, Any] = answer.json()
    problem["status"] = answer.status_code
    return problem


def test_a_bad_signature_is_refused(world: World) -> None:
    body, headers = signed(world.provider_key, report_payload(world))
    tampered = body.replace(b'"high"', b'"low"', 1)
    assert tampered != body
    problem = refused(world, tampered, headers)
    assert (problem["status"], problem["code"]) == (401, "invalid_signature")


def test_a_document_of_an_unregistered_provider_is_refused(world: World, tmp_path: Path) -> None:
    stranger = generate_key_file(tmp_path / "stranger.pem")
    body, headers = signed(stranger, report_payload(world))
    problem = refused(world, body, headers)
    assert (problem["status"], problem["code"]) == (401, "unknown_provider")


@pytest.mark.parametrize(
    "change",
    [
        {"version": "one"},
        {"assessment": None},
        {"type": YEARLY_FIGURES},
        {"signed_off_at": "yesterday"},
    ],
)
def test_a_malformed_report_is_refused(world: World, change: dict[str, Any]) -> None:
    payload = {**report_payload(world), **change}
    body, headers = signed(world.provider_key, payload, ref=risk_report_key("Example Social", 1))
    problem = refused(world, body, headers)
    assert (problem["status"], problem["code"]) == (422, "invalid_input")


def test_a_key_that_does_not_follow_from_the_document_is_refused(world: World) -> None:
    payload = report_payload(world)
    body, headers = signed(world.provider_key, payload, ref=risk_report_key("Example Social", 2))
    problem = refused(world, body, headers)
    assert (problem["status"], problem["code"]) == (422, "invalid_input")
    assert "idempotency key" in problem["detail"]


def test_another_kind_of_message_is_refused(world: World) -> None:
    body, headers = signed(world.provider_key, report_payload(world), kind=REPORT_KIND)
    problem = refused(world, body, headers)
    assert (problem["status"], problem["code"]) == (422, "invalid_input")


def test_a_replay_of_an_old_signed_document_is_refused(world: World) -> None:
    payload = report_payload(world)
    body, headers = signed(world.provider_key, payload, at=datetime.now(UTC) - timedelta(days=8))
    problem = refused(world, body, headers)
    assert (problem["status"], problem["code"]) == (401, "stale_signature")


def test_another_document_under_a_stored_documents_key_is_a_conflict(world: World) -> None:
    payload = report_payload(world)
    first = signed(world.provider_key, payload)
    changed = signed(world.provider_key, {**payload, "summary": "Changed after sending."})
    stored_answer, answer = post(world, first, changed)

    assert stored_answer.status_code == 201
    assert answer.status_code == 409 and answer.json()["code"] == "conflict"
    (stored,) = documents(world)
    assert stored.body == first[0].decode()


def test_a_document_without_signature_headers_is_refused(world: World) -> None:
    body, _ = signed(world.provider_key, report_payload(world))
    problem = refused(world, body, {"Content-Type": "application/json"})
    assert problem["status"] == 401


# The authority's console and the compliance record.


def executed_order(world: World) -> str:
    """A removal order the provider executed, its signed report recorded at the authority."""
    issuer = Issuer.of(world.authority_settings)
    issued = issue_removal_order(
        world.authority_db,
        "officer-1",
        PROVIDER,
        [("item_id", "upload-1")],
        "Placeholder reasons.",
        issuer,
        world.authority_key,
    )
    now = datetime.now(UTC)
    outcome = ItemOutcome("0", "upload-1", ItemState.REMOVED, now)
    document = execution_report(issued.order_id, PROVIDER, now, now, [outcome])
    report = sign_message(
        world.provider_key, REPORT_KIND, "report:" + issued.order_id, document, now
    )
    receive_execution_report(
        world.authority_db,
        report.key_id,
        report.body,
        report.signature,
        now,
        SigningWindow(),
    )
    return issued.order_id


def receive_all(world: World) -> None:
    with served(world.app) as url:
        send_report(world, url)
        send_figures(world, datetime.now(UTC).year - 1, url)
        deliver(world)


def test_the_console_shows_each_providers_reports_and_figures(world: World) -> None:
    receive_all(world)
    executed_order(world)
    report, figures = documents(world)

    async def work() -> list[httpx.Response]:
        async with client_of(world.app) as client:
            await sign_in(client, "supervisor-1")
            return [
                await client.get(path)
                for path in (
                    "/ui/providers",
                    "/ui/providers/1",
                    f"/ui/providers/1/documents/{report.id}",
                    f"/ui/providers/2/documents/{report.id}",
                )
            ]

    listing, page, shown, elsewhere = asyncio.run(work())

    assert listing.status_code == 200 and PROVIDER in listing.text
    assert 'href="/ui/providers/1"' in listing.text
    assert page.status_code == 200
    assert "Example Social" in page.text and f'data-document="{report.id}"' in page.text
    assert f'data-document="{figures.id}"' in page.text
    assert 'id="export-record"' in page.text and "executed" in page.text
    assert shown.status_code == 200 and report.signature in shown.text
    assert elsewhere.status_code == 404


def test_the_console_exports_the_providers_signed_compliance_record(world: World) -> None:
    receive_all(world)
    order_id = executed_order(world)

    async def work() -> httpx.Response:
        async with client_of(world.app) as client:
            await sign_in(client, "officer-1")
            return await client.get("/ui/providers/1/record")

    answer = asyncio.run(work())

    assert answer.status_code == 200, answer.text[answer.text.find("<main>") :][:500]
    assert "compliance-record-Example-Hosting-BV.json" in answer.headers["content-disposition"]
    record = verify_record(answer.content, world.authority_key.public_key_pem())
    assert record["provider"]["name"] == PROVIDER
    (order,) = record["orders"]
    assert (order["order_id"], order["status"]) == (order_id, "executed")
    assert order["execution_report"] is not None
    assert [d["service"] for d in record["risk_reports"]] == ["Example Social"]
    assert [d["year"] for d in record["yearly_figures"]] == [datetime.now(UTC).year - 1]
    # Each part still verifies against the key that signed it.
    provider_public = world.provider_key.private_key.public_key()
    for part in (*record["risk_reports"], *record["yearly_figures"]):
        open_message(provider_public, part["key_id"], part["body"].encode(), part["signature"])
    open_message(
        provider_public,
        world.provider_key.key_id,
        order["execution_report"]["body"].encode(),
        order["execution_report"]["signature"],
    )
    with world.authority_db.reader() as session:
        exports = list_entries(session, action=Action.EXPORT)
    assert [e.details["document"] for e in exports] == ["csa_compliance_record"]


def test_a_changed_compliance_record_no_longer_verifies(world: World) -> None:
    from tutela.authority.compliance_record import export_record
    from tutela.errors import InvalidSignature

    receive_all(world)
    exported = export_record(
        world.authority_db,
        "user:1",
        1,
        world.authority_key,
        Issuer.of(world.authority_settings),
        datetime.now(UTC),
        timedelta(hours=24),
    )
    envelope = json.loads(exported.file_bytes)
    envelope["document"]["yearly_figures"] = []
    with pytest.raises(InvalidSignature):
        verify_record(json.dumps(envelope).encode(), world.authority_key.public_key_pem())


# The command line.


def run_cli(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code in (0, None)


def test_tutela_risk_send_queues_the_report_for_the_coordinating_authority(
    people_cli: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUTELA_COORDINATING_AUTHORITY_URL", "https://authority.example")
    run_cli(["risk", "send", "--by", OFFICER, "--json"])
    line = json.loads(capsys.readouterr().out)
    assert line["kind"] == RISK_REPORT
    assert line["url"] == "https://authority.example" + COMPLIANCE_PATH
    assert line["status"] == "queued"


def test_tutela_transparency_send_queues_the_years_figures(
    people_cli: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUTELA_COORDINATING_AUTHORITY_URL", "https://authority.example")
    run_cli(["transparency", "send", "--year", "2025", "--json"])
    line = json.loads(capsys.readouterr().out)
    assert line["kind"] == YEARLY_FIGURES and line["document_ref"].startswith("figures:2025:")


def test_tutela_risk_send_without_the_authority_url_says_what_to_set(
    people_cli: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TUTELA_COORDINATING_AUTHORITY_URL", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(["risk", "send", "--by", OFFICER])
    assert exited.value.code == 1
    assert "TUTELA_COORDINATING_AUTHORITY_URL" in capsys.readouterr().err


@pytest.fixture
def people_cli(database: Database, cli_env: Settings) -> Settings:
    """The CLI pointed at a provider with a signed-off assessment and a key."""
    add_officer_and_reviewer(database)
    signed_off_chat(database, FixedClock(NOW))
    generate_key_file(default_key_file(cli_env))
    return cli_env


def test_tutela_authority_provider_record_writes_a_signed_file(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    receive_all(world)
    configured = world.authority_settings
    monkeypatch.setenv("TUTELA_DATA_DIR", str(configured.data_dir))
    if configured.database_url:
        monkeypatch.setenv("TUTELA_DATABASE_URL", configured.database_url)
    else:
        monkeypatch.delenv("TUTELA_DATABASE_URL", raising=False)
    for name, value in (
        ("TUTELA_AUTHORITY_NAME", configured.authority_name),
        ("TUTELA_AUTHORITY_CONTACT", configured.authority_contact),
        ("TUTELA_AUTHORITY_COUNTRY", configured.authority_country),
        ("TUTELA_AUTHORITY_URL", str(configured.authority_url)),
    ):
        monkeypatch.setenv(name, value)
    out = tmp_path / "record.json"
    run_cli(
        ["authority", "provider", "record", PROVIDER, "--out", str(out), "--by", "supervisor-1"]
    )
    assert "signed" in capsys.readouterr().out
    record = verify_record(out.read_bytes(), world.authority_key.public_key_pem())
    assert [d["kind"] for d in record["risk_reports"]] == [RISK_REPORT]
    assert len(record["yearly_figures"]) == 1
