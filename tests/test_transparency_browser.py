"""The yearly figures in a real browser (Debian's chromium driven by Playwright): a compliance
officer opens `/ui/transparency` on a running node seeded with known decisions and sees the
charts drawn on the server; the HTML document of `tutela transparency report` renders with its
charts too. Screenshots go to test-output/transparency/."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from browser_fixtures import CHROMIUM, LAUNCH_ARGS, needs_chromium, screenshots
from provider_fixtures import TUTELA, node_env, running_node
from review_fixtures import PASSWORD
from transparency_seed import YEAR, seed_node
from tutela.db.database import open_database
from tutela.settings import Settings

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = needs_chromium
ENV = {"TUTELA_CONSOLE_INSECURE_COOKIES": "1"}


@pytest.fixture
def seeded(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path / "data")
    database = open_database(settings)
    try:
        seed_node(database)
    finally:
        database.close()
    subprocess.run(
        [TUTELA, "user", "create", "cora", "--role", "compliance_officer"],
        input=PASSWORD + "\n",
        text=True,
        env=node_env(settings, **ENV),
        check=True,
        capture_output=True,
    )
    return settings


@pytest.fixture
def node_url(seeded: Settings, tmp_path: Path) -> Iterator[str]:
    with running_node(seeded, tmp_path, workers=1, env=ENV) as node:
        yield node.url


def test_a_compliance_officer_sees_the_years_figures_as_charts(node_url: str) -> None:
    shots = screenshots("transparency")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            refused: list[str] = []  # what the page's Content-Security-Policy blocked
            page.on("console", lambda m: refused.append(m.text) if "Refused" in m.text else None)
            page.goto(node_url + "/ui/login")
            page.wait_for_selector("input[name=name]:focus")
            page.keyboard.type("cora")
            page.keyboard.press("Tab")
            page.keyboard.type(PASSWORD)
            page.keyboard.press("Enter")
            page.wait_for_url("**/ui/home")
            page.click("nav >> text=Figures")
            page.wait_for_url("**/ui/transparency")
            page.fill("input[name=year]", str(YEAR))
            page.keyboard.press("Enter")
            page.wait_for_url(f"**/ui/transparency?year={YEAR}")
            page.wait_for_selector("svg.chart")
            page.screenshot(path=str(shots / "01-figures.png"), full_page=True)
            assert page.locator("svg.chart").count() == 3
            # One bar per bank, signal and band, each with its interval drawn over it.
            assert page.locator("svg.chart").first.locator("rect.bar").count() == 6
            assert page.locator("svg.chart").first.locator("line.interval").count() == 6
            assert page.locator("#error-rates tbody tr").count() == 6
            # ncmec · pdq · 11-20: two of three judged not abuse, drawn two thirds wide.
            bar = page.locator("svg.chart").first.locator("rect.bar").nth(3).bounding_box()
            assert bar is not None and bar["width"] > 0
            assert refused == []  # inline SVG with attributes only: nothing for the policy to block
        finally:
            browser.close()


def test_the_html_report_renders_with_its_charts(seeded: Settings, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    subprocess.run(
        [
            TUTELA,
            "transparency",
            "report",
            "--year",
            str(YEAR),
            "--format",
            "html",
            "--out",
            str(out),
        ],
        env=node_env(seeded),
        check=True,
        capture_output=True,
    )
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(out.as_uri())
            page.screenshot(
                path=str(screenshots("transparency") / "02-document.png"), full_page=True
            )
            assert page.locator("svg.chart").count() == 3
            assert page.locator("svg.chart rect.bar").count() > 6
            assert page.locator("table.figures tbody tr").count() > 20
        finally:
            browser.close()
