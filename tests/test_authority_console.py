"""The authority's console (/ui on the authority node): case officers issue orders through a
form and everyone who supervises reads every order with its state and time to execute, and the
provider's signed execution report; a supervisor issues nothing. In chromium: an officer issues a
removal order, the test drives the provider (delivery, execution, the report back over real
HTTP), and the officer watches the order go from sent to received to executed and reads the
report. Drawn pictures and placeholder names only."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from blocking_fixtures import served
from browser_fixtures import CHROMIUM, LAUNCH_ARGS, needs_chromium, screenshots
from order_fixtures import uploads
from password_hashing import cheap_argon2  # noqa: F401  (a fixture)
from test_console_access import endpoints
from tutela.audit.models import AuditEntry
from tutela.auth.csrf import issue_csrf_token
from tutela.auth.users import create_user
from tutela.authority.keys import authority_key_file
from tutela.authority.models import IssuedOrder
from tutela.authority.providers import add_provider
from tutela.authority.supervision import supervised_orders
from tutela.clock import utc_now
from tutela.db.database import Database, open_database
from tutela.messaging.outbox import deliver_due
from tutela.messaging.outbox_models import OutboxMessage
from tutela.messaging.signing import SigningKey, SigningWindow, generate_key_file
from tutela.nodes.authority import create_authority_app
from tutela.orders.authority_keys import add_authority_key
from tutela.orders.execution import confirm_executed
from tutela.orders.receiving import OrderRules, receive_order
from tutela.orders.transport import ORDERS, OrdersTransport
from tutela.settings import Settings
from tutela.ui.access import LOGIN_CSRF_COOKIE, SESSION_COOKIE

PASSWORD = "placeholder-passphrase-for-tests"
PROVIDER = "Example Hosting BV"
PROVIDER_URL = "http://provider.example/v1/orders"
BASE = "https://authority.test"
pytestmark = pytest.mark.usefixtures("cheap_argon2")


def authority_settings(settings: Settings, url: str = "http://authority.example") -> Settings:
    return dataclasses.replace(
        settings,
        authority_name="Example Authority",
        authority_contact="orders@authority.example",
        authority_country="NL",
        authority_url=url,
        centre_url=None,
        console_insecure_cookies=True,
    )


def set_up_authority(database: Database, settings: Settings, provider: SigningKey) -> SigningKey:
    """The authority's people, its key, and the one provider it orders."""
    for name, role in (
        ("admin-1", "administrator"),
        ("officer-1", "case_officer"),
        ("supervisor-1", "supervisor"),
    ):
        create_user(database, name, PASSWORD, [role], actor="test")
    add_provider(database, "admin-1", PROVIDER, provider.public_key_pem(), PROVIDER_URL, "NL")
    return generate_key_file(authority_key_file(settings))


@pytest.fixture
def authority(
    database: Database, settings: Settings, tmp_path: Path
) -> tuple[FastAPI, Database, SigningKey]:
    configured = authority_settings(settings)
    provider = generate_key_file(tmp_path / "provider.pem")
    key = set_up_authority(database, configured, provider)
    return create_authority_app(configured, database), database, key


@asynccontextmanager
async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


async def sign_in(client: httpx.AsyncClient, name: str) -> str:
    """Through the real login form; the CSRF token of the new session."""
    form = await client.get("/ui/login")
    token = form.cookies.get(LOGIN_CSRF_COOKIE) or ""
    answer = await client.post(
        "/ui/login", data={"csrf": token, "name": name, "password": PASSWORD}
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/ui/orders"
    return issue_csrf_token(client.cookies.get(SESSION_COOKIE) or "")


def count(database: Database, table: type) -> int:
    with database.reader() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


REMOVAL_FORM = {
    "provider": PROVIDER,
    "kind": "removal",
    "items": "upload-1\nurl=https://photos.example/p/2",
    "reasons": "Placeholder reasons.",
}


def test_every_console_route_of_the_authority_declares_who_it_admits(
    authority: tuple[FastAPI, Database, SigningKey],
) -> None:
    app, _, _ = authority
    public = {
        ("GET", "/ui"),
        ("GET", "/ui/login"),
        ("POST", "/ui/login"),
        ("GET", "/ui/static/{name}"),
    }
    undeclared = [
        (method, path)
        for method, path, declaration in endpoints(app)
        if path.startswith("/ui") and "roles" not in declaration and (method, path) not in public
    ]
    assert undeclared == []


def test_a_case_officer_issues_a_removal_order_through_the_form_and_lands_on_its_page(
    authority: tuple[FastAPI, Database, SigningKey],
) -> None:
    app, database, _ = authority

    async def work() -> None:
        async with client_of(app) as client:
            csrf = await sign_in(client, "officer-1")
            answer = await client.post("/ui/orders", data={**REMOVAL_FORM, "csrf": csrf})
            assert answer.status_code == 303, answer.text
            page = await client.get(answer.headers["location"])
            assert page.status_code == 200
            assert "Removal order #1" in page.text and ">sent<" in page.text
            assert "No execution report yet." in page.text

    asyncio.run(work())
    with database.reader() as session:
        order = session.scalars(select(IssuedOrder)).one()
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    assert order.issued_by.startswith("user:")
    assert "order_issue" in actions
    assert count(database, OutboxMessage) == 1


def test_a_case_officer_issues_a_blocking_order_with_its_end_through_the_form(
    authority: tuple[FastAPI, Database, SigningKey],
) -> None:
    app, _, _ = authority
    ends = (utc_now() + timedelta(days=400)).date().isoformat()
    form = {
        "provider": PROVIDER,
        "kind": "blocking",
        "items": "7=https://blocked.example/a",
        "reasons": "Placeholder reasons.",
        "ends": ends,
    }

    async def work() -> str:
        async with client_of(app) as client:
            csrf = await sign_in(client, "officer-1")
            answer = await client.post("/ui/orders", data={**form, "csrf": csrf})
            assert answer.status_code == 303, answer.text
            return (await client.get(answer.headers["location"])).text

    html = asyncio.run(work())
    assert "Blocking order #1" in html and "Next yearly review" in html
    assert "https://blocked.example/a" in html


def test_a_blocking_order_without_an_end_is_refused_with_an_error_page_and_nothing_queued(
    authority: tuple[FastAPI, Database, SigningKey],
) -> None:
    app, database, _ = authority
    form = {**REMOVAL_FORM, "kind": "blocking", "items": "7=https://blocked.example/a"}

    async def work() -> httpx.Response:
        async with client_of(app) as client:
            csrf = await sign_in(client, "officer-1")
            return await client.post("/ui/orders", data={**form, "csrf": csrf})

    answer = asyncio.run(work())
    assert answer.status_code == 422
    assert "ISO 8601" in answer.text
    assert count(database, IssuedOrder) == 0 and count(database, OutboxMessage) == 0


def test_a_supervisor_reads_the_orders_but_may_not_issue_one(
    authority: tuple[FastAPI, Database, SigningKey],
) -> None:
    app, database, _ = authority

    async def work() -> tuple[int, int, int]:
        async with client_of(app) as client:
            csrf = await sign_in(client, "supervisor-1")
            listing = await client.get("/ui/orders")
            form = await client.get("/ui/orders/new")
            issued = await client.post("/ui/orders", data={**REMOVAL_FORM, "csrf": csrf})
            assert "Issue an order" not in listing.text
            return listing.status_code, form.status_code, issued.status_code

    assert asyncio.run(work()) == (200, 403, 403)
    assert count(database, IssuedOrder) == 0


def test_a_received_removal_order_without_a_report_is_overdue_once_its_deadline_passed(
    authority: tuple[FastAPI, Database, SigningKey],
) -> None:
    app, database, _ = authority

    async def work() -> None:
        async with client_of(app) as client:
            csrf = await sign_in(client, "officer-1")
            await client.post("/ui/orders", data={**REMOVAL_FORM, "csrf": csrf})

    asyncio.run(work())
    taken = httpx.MockTransport(lambda request: httpx.Response(201, json={"id": 1}))
    with httpx.Client(transport=taken) as http:
        deliver_due(database, {ORDERS: OrdersTransport(http)}, utc_now())
    now = utc_now()
    (running,) = supervised_orders(database, now, timedelta(hours=24))
    (late,) = supervised_orders(database, now + timedelta(hours=25), timedelta(hours=24))
    assert running.status == "received" and running.left is not None
    assert running.left > timedelta(hours=23)
    assert late.status == "overdue"


browser_only = needs_chromium
SHOTS = screenshots("authority")


@pytest.fixture
def live(
    database: Database, settings: Settings, tmp_path: Path
) -> Iterator[tuple[str, Database, Database, SigningKey]]:
    """The authority served over HTTP (its own database), and a provider's database holding two
    drawn uploads and the authority's key: (base URL, authority db, provider db, provider key)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    configured = authority_settings(settings, f"http://127.0.0.1:{port}")
    provider_key = generate_key_file(tmp_path / "provider.pem")
    authority_key = set_up_authority(database, configured, provider_key)
    provider_db = open_database(Settings(data_dir=tmp_path / "provider"))
    try:
        add_authority_key(
            provider_db, "cli:test", "Example Authority", authority_key.public_key_pem()
        )
        uploads(provider_db, 2)
        app = create_authority_app(configured, database)
        with served(app, port) as base:
            yield base, database, provider_db, provider_key
    finally:
        provider_db.close()


def deliver_to_provider(authority_db: Database, provider_db: Database) -> dict[str, Any]:
    """The authority's outbox delivers the order; the provider's service takes it (only the
    network between them is stood in for). The provider's receipt."""
    receipts: list[dict[str, Any]] = []
    rules = OrderRules(SigningWindow.of(Settings()), timedelta(hours=24))

    def provider(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == PROVIDER_URL
        answer, _ = receive_order(
            provider_db,
            request.headers["Tutela-Key-Id"],
            request.content,
            request.headers["Tutela-Signature"],
            utc_now(),
            rules,
        )
        receipts.append(answer)
        return httpx.Response(201, json=answer)

    with httpx.Client(transport=httpx.MockTransport(provider)) as http:
        deliver_due(authority_db, {ORDERS: OrdersTransport(http)}, utc_now())
    (receipt,) = receipts
    return receipt


@browser_only
def test_an_officer_issues_an_order_watches_it_executed_and_reads_the_signed_report(
    live: tuple[str, Database, Database, SigningKey],
) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    base, authority_db, provider_db, provider_key = live
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/ui/login")
            page.fill("input[name=name]", "officer-1")
            page.fill("input[name=password]", PASSWORD)
            page.keyboard.press("Enter")
            page.wait_for_url("**/ui/orders")
            page.click("#new-order")
            page.wait_for_url("**/ui/orders/new")
            page.select_option("select[name=kind]", "removal")
            page.fill("textarea[name=items]", "upload-1\nupload-2")
            page.fill("textarea[name=reasons]", "Placeholder reasons typed in the browser.")
            page.screenshot(path=str(SHOTS / "01-form.png"), full_page=True)
            page.click("#issue button[type=submit]")
            page.wait_for_url("**/ui/orders/1")
            assert page.inner_text("#state") == "sent"

            receipt = deliver_to_provider(authority_db, provider_db)
            page.click("#refresh")
            page.wait_for_selector("#state:text('received')")
            assert "left" in page.inner_text("#timing")
            page.screenshot(path=str(SHOTS / "02-received.png"), full_page=True)

            for item in receipt["items"]:
                confirm_executed(
                    provider_db,
                    receipt["id"],
                    item["id"],
                    "apikey:test",
                    provider_key,
                    platform="default",
                )
            with httpx.Client() as http:  # the execution report back, over real HTTP
                run = deliver_due(provider_db, {ORDERS: OrdersTransport(http)}, utc_now())
            assert len(run.delivered) == 1, run
            page.click("#refresh")
            page.wait_for_selector("#state:text('executed')")
            report = page.inner_text("#report")
            page.screenshot(path=str(SHOTS / "03-executed.png"), full_page=True)
            assert provider_key.key_id in report
            assert report.count('"outcome": "removed"') == 2
            page.goto(f"{base}/ui/orders")
            assert "executed" in page.inner_text("#orders")
        finally:
            browser.close()
