"""The review console in a real browser (Debian's chromium driven by Playwright) against a real
`tutela serve`: sign in, work the queue by keyboard alone, reveal, decide, and find the decision
in the auditor's view. Screenshots go to test-output/console/ for people to look at."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from browser_fixtures import CHROMIUM, LAUNCH_ARGS, needs_chromium, screenshots
from provider_fixtures import TUTELA, make_bank, make_key, node_env, running_node, wait_decided
from review_fixtures import METADATA, PASSWORD, jpeg_bytes, photo
from tutela.db.database import open_database
from tutela.master_key import generate_master_key
from tutela.review.models import ReviewDecision
from tutela.settings import Settings

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = needs_chromium


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    """A node with a bank of two photos, a reviewer and an auditor, and both photos uploaded."""
    settings = Settings(data_dir=tmp_path / "data")
    database = open_database(settings)
    make_bank(database, "known-list", [photo("astronaut"), photo("coffee")])
    key = make_key(database)
    database.close()
    env = {
        "TUTELA_VAULT_KEY": generate_master_key().encode(),
        "TUTELA_CONSOLE_INSECURE_COOKIES": "1",
    }
    for name, role in (("rita", "reviewer"), ("aldo", "auditor")):
        subprocess.run(
            [TUTELA, "user", "create", name, "--role", role],
            input=PASSWORD + "\n",
            text=True,
            env=node_env(settings, **env),
            check=True,
            capture_output=True,
        )
    with running_node(settings, tmp_path, workers=1, env=env) as node:
        with httpx.Client(base_url=node.url, headers={"Authorization": f"Bearer {key}"}) as client:
            ids = []
            for name in ("astronaut", "coffee"):
                meta = json.dumps({"item_id": f"upload-{name}", **METADATA})
                answer = client.post(
                    "/v1/items",
                    files={"file": ("upload.jpg", jpeg_bytes(photo(name)))},
                    data={"metadata": meta},
                )
                ids.append(answer.json()["id"])
            decided = wait_decided(client, ids, timeout_s=90)
            assert all(view["case_id"] for view in decided.values())
        yield node.url, settings


def test_a_reviewer_works_the_queue_by_keyboard_and_the_auditor_sees_it(
    console: tuple[str, Settings],
) -> None:
    url, settings = console
    shots = screenshots("console")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(url + "/ui/login")
            page.screenshot(path=str(shots / "01-login.png"))
            page.wait_for_selector("input[name=name]:focus")  # autofocus has landed
            page.keyboard.type("rita")
            page.keyboard.press("Tab")
            page.keyboard.type(PASSWORD)
            page.keyboard.press("Enter")
            page.wait_for_url("**/ui/queue")
            assert page.locator("table.queue tbody tr").count() == 2
            page.screenshot(path=str(shots / "02-queue.png"))

            page.keyboard.press("j")
            page.keyboard.press("k")
            page.keyboard.press("?")
            page.screenshot(path=str(shots / "03-help.png"))
            page.keyboard.press("Escape")
            page.keyboard.press("Enter")
            page.wait_for_url("**/ui/cases/*")
            page.wait_for_function("document.getElementById('preview').naturalWidth > 0")
            page.screenshot(path=str(shots / "04-case-blurred.png"))

            page.keyboard.press("r")
            page.wait_for_selector("#revealed:not([hidden])")
            page.screenshot(path=str(shots / "05-case-revealed.png"))
            page.keyboard.press("r")
            page.wait_for_selector("#revealed", state="hidden")

            # The reviewer's choices for the report and the platform (Art 13(1)(j), Annex III).
            page.check("input[name=urgent]")
            page.fill("input[name=urgent_reason]", "placeholder: a threat to safety")
            page.select_option("select[name=account_action]", "none")
            page.evaluate("document.activeElement.blur()")
            page.keyboard.press("c")
            page.wait_for_selector("#confirmbar:not([hidden])")
            page.screenshot(path=str(shots / "06-confirm-chosen.png"))
            first_case = page.url
            page.keyboard.press("Enter")
            page.wait_for_url(lambda url: url != first_case and "/ui/cases/" in url)

            page.keyboard.press("x")
            page.keyboard.press("Enter")
            page.wait_for_url("**/ui/queue?done=*")
            assert "queue is empty" in page.content()
            page.screenshot(path=str(shots / "07-queue-empty.png"))

            auditor = browser.new_context().new_page()
            auditor.set_viewport_size({"width": 1280, "height": 860})
            auditor.goto(url + "/ui/login")
            auditor.wait_for_selector("input[name=name]:focus")  # autofocus has landed
            auditor.keyboard.type("aldo")
            auditor.keyboard.press("Tab")
            auditor.keyboard.type(PASSWORD)
            auditor.keyboard.press("Enter")
            auditor.wait_for_url("**/ui/home")
            auditor.goto(url + "/ui/audit")
            assert auditor.locator("text=chain intact").count() == 1
            assert auditor.locator("tr.a-reveal").count() == 1
            assert auditor.locator("tr.a-decision").count() == 2
            auditor.screenshot(path=str(shots / "08-audit.png"), full_page=True)
        finally:
            browser.close()
    effects = confirmed_effects(settings)
    assert effects["choices"]["urgent"] is True
    assert effects["choices"]["urgent_reason"] == "placeholder: a threat to safety"
    assert effects["account_action"] == "none"


def confirmed_effects(settings: Settings) -> dict[str, Any]:
    """What the console's confirmation recorded, read from the node's database."""
    database = open_database(settings, migrate=False)
    try:
        with database.reader() as session:
            effects = session.scalars(
                select(ReviewDecision.effects).where(ReviewDecision.decision == "confirm_known")
            ).one()
            return dict(effects)
    finally:
        database.close()
