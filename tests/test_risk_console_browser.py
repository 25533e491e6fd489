"""The risk register in a real browser (Debian's chromium driven by Playwright) against the
provider app served over HTTP: a compliance officer fills a risk assessment for a service, sees
the node's own figures in it, signs it off and downloads the signed Art 5 report (its signature
verifies); when the clock passes the re-assessment date, the register shows the reminder.
Screenshots go to test-output/risk/."""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from browser_fixtures import CHROMIUM, LAUNCH_ARGS, needs_chromium, screenshots
from review_fixtures import PASSWORD
from test_risk_figures import NOW, add_reviewer, at, seed_item
from tutela.auth.users import create_user
from tutela.clock import FixedClock
from tutela.db.database import Database, open_database
from tutela.detection.models import CaseState
from tutela.messaging.signing import SigningKey, default_key_file, generate_key_file
from tutela.nodes.provider import create_app
from tutela.risk.art5_report import verify_exported
from tutela.settings import Settings

pytestmark = needs_chromium
SHOTS = screenshots("risk")


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[str, FixedClock, SigningKey, Database]]:
    """A provider node whose items name two service parts, a compliance officer, and the
    provider's signing key; served on a free port with a clock the test moves."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    del playwright_api
    import uvicorn

    settings = Settings(
        data_dir=tmp_path / "data",
        console_insecure_cookies=True,
        provider_name="Example Social BV",
        provider_country="NL",
        provider_services=("chat", "photos"),
    )
    database = open_database(settings)
    add_reviewer(database)
    create_user(database, "cora", PASSWORD, ["compliance_officer"], actor="test")
    seed_item(database, 1, "chat", at(5), status=CaseState.CONFIRMED, decided_at=at(6))
    seed_item(database, 2, "chat", at(6))
    seed_item(database, 3, "photos", at(4))
    key = generate_key_file(default_key_file(settings))
    app = create_app(dataclasses.replace(settings), database=database)
    clock = FixedClock(NOW)
    app.state.clock = clock
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            thread.join(0.05)
        yield f"http://127.0.0.1:{port}", clock, key, database
    finally:
        server.should_exit = True
        thread.join(10)
        database.close()


def sign_in(page: Any, base: str, name: str) -> None:
    page.goto(f"{base}/ui/login")
    page.wait_for_selector("input[name=name]:focus")  # autofocus has landed
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/home")


def test_an_officer_assesses_signs_off_and_exports_and_is_reminded_when_due(
    node: tuple[str, FixedClock, SigningKey, Database], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    base, clock, key, _ = node
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            sign_in(page, base, "cora")
            page.click("text=Risk register")
            page.wait_for_url("**/ui/risk")
            page.fill("#start input[name=service]", "Example Social")
            page.click("#start button")
            page.wait_for_url("**/ui/risk/assessments/*")

            # The chat part: messaging and pictures between strangers, used by teenagers.
            page.fill("#part-form input[name=name]", "chat")
            for function in ("direct_messaging", "image_video_sharing", "contact_with_strangers"):
                page.check(f"#part-form input[name={function}]")
            page.select_option("#part-form select[name=age_assurance]", "self_declaration")
            page.select_option("#part-form select[name=user_reporting]", "basic")
            page.select_option("#part-form select[name=children_use]", "likely")
            page.click("#part-form button")
            page.wait_for_selector("#part-chat")

            # The node's own figures: two chat items matched, one report confirmed.
            chat = page.locator("#part-chat")
            assert chat.locator(".total .matches").inner_text() == "2"
            assert chat.locator(".total .confirmed").inner_text() == "1"
            assert chat.locator(".level").inner_text() == "high risk"
            # Photos had items too, and the officer is told it is not assessed yet.
            assert "photos" in page.locator("#unassessed").inner_text()

            page.select_option("#measure-form select[name=kind]", "age_assurance")
            page.select_option("#measure-form select[name=part]", "chat")
            page.fill("#measure-form input[name=description]", "Age estimation at sign-up")
            page.fill("#measure-form input[name=owner]", "Trust & Safety")
            page.fill("#measure-form input[name=due_on]", "2026-09-30")
            page.click("#measure-form button")
            page.wait_for_selector("#measures")
            page.screenshot(path=str(SHOTS / "01-draft.png"), full_page=True)

            page.click("#sign-off button")
            page.wait_for_selector("#signed")
            assert page.locator("#state").inner_text() == "signed off"
            assert page.locator("#part-form").count() == 0  # nothing left to change
            page.screenshot(path=str(SHOTS / "02-signed-off.png"), full_page=True)

            with page.expect_download() as download_info:
                page.click("#export button")
            saved = tmp_path / "art5.json"
            download_info.value.save_as(saved)
            document = verify_exported(saved.read_bytes(), key.public_key_pem())
            assert (document["service"], document["version"]) == ("Example Social", 1)
            (part,) = document["assessment"]["parts"]
            assert part["figures"]["totals"] == {
                "matches": 2,
                "confirmed_reports": 1,
                "complaints": 0,
            }

            page.goto(f"{base}/ui/risk")
            assert page.locator(".reminder").count() == 0
            clock.advance(timedelta(days=3 * 366))
            page.reload()
            reminder = page.locator(".reminder")
            assert reminder.count() == 1
            assert "risk assessment of Example Social is due" in reminder.inner_text()
            page.screenshot(path=str(SHOTS / "03-reminder.png"), full_page=True)
        finally:
            browser.close()
