"""The centre's yearly figures (Art 83(3)) where its people and its monitoring read them: the
console page `/ui/transparency` on the centre node, with charts drawn on the server and every
figure in a table, for its auditors and compliance officers only (each look audited); the same
document to download; and the figures as gauges on the centre's `/metrics`, for a key with the
`metrics` scope. In chromium: an auditor opens the page from the console's menu. Seeded with
the placeholder reports of tests/test_transparency_centre.py; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from browser_fixtures import CHROMIUM, LAUNCH_ARGS, needs_chromium, screenshots
from fuzzing import running_centre
from password_hashing import cheap_argon2  # noqa: F401  (a fixture)
from provider_fixtures import TUTELA, node_env
from report_samples import NOW
from review_fixtures import PASSWORD
from test_transparency_centre import seeded  # noqa: F401  (a fixture)
from tutela.api.centre_metrics import CentreFiguresCollector
from tutela.audit.log import Action, list_entries
from tutela.auth.api_keys import create_api_key
from tutela.auth.csrf import issue_csrf_token
from tutela.auth.users import create_user
from tutela.clock import FixedClock, utc_now
from tutela.db.database import Database
from tutela.nodes.centre import create_centre_app
from tutela.settings import Settings
from tutela.transparency.centre_figures import centre_figures
from tutela.transparency.periods import Year
from tutela.ui.access import LOGIN_CSRF_COOKIE, SESSION_COOKIE

BASE = "https://centre.test"
YEAR = NOW.year
pytestmark = pytest.mark.usefixtures("cheap_argon2")


@pytest.fixture
def centre(seeded: Database, settings: Settings) -> FastAPI:  # noqa: F811
    for name, role in (("aldo", "auditor"), ("ana", "analyst"), ("cora", "compliance_officer")):
        create_user(seeded, name, PASSWORD, [role], actor="test")
    return create_centre_app(settings, seeded)


@asynccontextmanager
async def signed_in(app: FastAPI, name: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        form = await client.get("/ui/login")
        token = form.cookies.get(LOGIN_CSRF_COOKIE) or ""
        answer = await client.post(
            "/ui/login", data={"csrf": token, "name": name, "password": PASSWORD}
        )
        assert answer.status_code == 303, answer.text
        issue_csrf_token(client.cookies.get(SESSION_COOKIE) or "")
        yield client


def get(app: FastAPI, name: str, path: str) -> httpx.Response:
    async def work() -> httpx.Response:
        async with signed_in(app, name) as client:
            return await client.get(path)

    return asyncio.run(work())


def expected(database: Database) -> dict[str, object]:
    with database.reader() as session:
        return centre_figures(session, Year.of(YEAR))


def test_an_auditor_reads_the_centres_figures_with_charts(
    centre: FastAPI,
    seeded: Database,  # noqa: F811
) -> None:
    answer = get(centre, "aldo", f"/ui/transparency?year={YEAR}")

    assert answer.status_code == 200
    assert answer.text.count('class="chart"') == 3
    figures = expected(seeded)
    reports = figures["reports"]
    assert isinstance(reports, dict)
    assert f"<dt>Reports received</dt><dd>{reports['received']} (" in answer.text
    assert f"<dt>Duplicates</dt><dd>{reports['duplicates']}</dd>" in answer.text
    assert 'data-figure="reports.by_member_state.DE"' in answer.text
    for provider, count in reports["by_provider"].items():
        assert f"<tr><td>{provider}</td><td>{count}</td></tr>" in answer.text
    with seeded.reader() as session:
        (entry,) = list_entries(session, action=Action.VIEW)
    assert entry.details == {"kind": "centre", "year": YEAR, "purpose": "view"}


def test_the_page_holds_no_script_from_elsewhere(centre: FastAPI) -> None:
    answer = get(centre, "cora", f"/ui/transparency?year={YEAR}")
    assert answer.status_code == 200
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert "<script" not in answer.text.replace(
        '<script src="/ui/static/console.js" defer></script>', ""
    )


def test_the_figures_download_as_csv(centre: FastAPI, seeded: Database) -> None:  # noqa: F811
    answer = get(centre, "aldo", f"/ui/transparency/report?year={YEAR}&format=csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    reports = expected(seeded)["reports"]
    assert isinstance(reports, dict)
    assert f"reports.received,{reports['received']}" in answer.text.splitlines()


def test_an_analyst_may_not_read_the_figures_page(centre: FastAPI) -> None:
    assert get(centre, "ana", "/ui/transparency").status_code == 403


def metrics(app: FastAPI, key: str | None) -> httpx.Response:
    async def work() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            return await client.get("/metrics", headers=headers)

    return asyncio.run(work())


def samples_of(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_centres_metrics_carry_the_figures_of_the_year(
    seeded: Database,  # noqa: F811
) -> None:
    registry = CollectorRegistry()
    registry.register(CentreFiguresCollector(seeded, clock=FixedClock(NOW)))
    samples = samples_of(generate_latest(registry).decode())

    figures = expected(seeded)
    reports = figures["reports"]
    assert isinstance(reports, dict)
    assert reports["received"] > 0
    for country, count in reports["by_member_state"].items():
        labels = (("member_state", country),)
        assert samples[("tutela_centre_reports_by_member_state", labels)] == count
    for name in ("received", "forwarded", "unfounded", "duplicates", "awaiting_assessment"):
        labels = (("assessment", name),)
        assert samples[("tutela_centre_reports", labels)] == reports[name]
    victims = figures["victims"]
    assert isinstance(victims, dict)
    labels = (("outcome", "helped"),)
    assert samples[("tutela_centre_victim_requests", labels)] == victims["helped"]
    indicators = figures["indicators"]
    assert isinstance(indicators, dict)
    in_force = samples[("tutela_centre_indicators_in_force", ())]
    assert in_force == indicators["in_force_at_year_end"]


def test_the_centres_metrics_endpoint_serves_them_to_a_metrics_key(
    centre: FastAPI,
    seeded: Database,  # noqa: F811
) -> None:
    _, key = create_api_key(seeded, "prometheus", ["metrics"], actor="test")
    answer = metrics(centre, key)

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples = samples_of(answer.text)
    with seeded.reader() as session:
        this_year = centre_figures(session, Year.of(utc_now().year))
    received = samples[("tutela_centre_reports", (("assessment", "received"),))]
    assert received == this_year["reports"]["received"]
    assert ("tutela_centre_indicators_withdrawn", ()) in samples


def test_the_centres_metrics_need_a_metrics_key(
    centre: FastAPI,
    seeded: Database,  # noqa: F811
) -> None:
    _, other = create_api_key(seeded, "not-for-metrics", ["hash"], actor="test")
    assert metrics(centre, None).status_code == 401
    assert metrics(centre, "tut_not-a-key-at-all-here").status_code == 401
    assert metrics(centre, other).status_code == 403


@pytest.mark.browser
@needs_chromium
def test_an_auditor_opens_the_centres_figures_in_chromium(
    seeded: Database,  # noqa: F811
    settings: Settings,
    tmp_path: Path,
) -> None:
    if settings.database_url:
        pytest.skip("the browser test runs on SQLite")
    env = {"TUTELA_CONSOLE_INSECURE_COOKIES": "1"}
    subprocess.run(
        [TUTELA, "user", "create", "aldo", "--role", "auditor"],
        input=PASSWORD + "\n",
        text=True,
        env=node_env(settings, **env),
        check=True,
        capture_output=True,
    )
    playwright_api = pytest.importorskip("playwright.sync_api")
    shots = screenshots("centre-figures")
    with (
        running_centre(settings, tmp_path, **env) as url,
        playwright_api.sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            refused: list[str] = []  # what the page's Content-Security-Policy blocked
            page.on("console", lambda m: refused.append(m.text) if "Refused" in m.text else None)
            page.goto(url + "/ui/login")
            page.wait_for_selector("input[name=name]:focus")
            page.keyboard.type("aldo")
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
            page.screenshot(path=str(shots / "01-centre-figures.png"), full_page=True)
            assert page.locator("svg.chart").count() == 3
            # Reports by Member State: DE and FR this year, one bar each, drawn with a width.
            first = page.locator("svg.chart").first
            assert first.locator("rect.bar").count() == 2
            bar = first.locator("rect.bar").first.bounding_box()
            assert bar is not None and bar["width"] > 0
            assert page.locator("#by-provider tbody tr").count() == 2
            assert refused == []
        finally:
            browser.close()
    with seeded.reader() as session:
        views = list_entries(session, action=Action.VIEW)
    assert any(e.details.get("kind") == "centre" for e in views)
