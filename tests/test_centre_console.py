"""The centre's triage console: every page route of the centre app admits exactly whom it
declares (analysts in, anonymous visitors to the login form, the provider console's people
refused), and analysts set a report aside and forward another through the pages, with the
domain state and the audit log to show for it. Only placeholder reports (tests/report_samples)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from browser_fixtures import CHROMIUM, LAUNCH_ARGS, needs_chromium, screenshots
from password_hashing import CHEAP
from report_samples import NOW, PDQ_A, PROVIDER, sample_input
from review_fixtures import PASSWORD
from test_console_access import endpoints
from tutela.audit.log import Action, list_entries
from tutela.auth import passwords
from tutela.auth.csrf import issue_csrf_token
from tutela.auth.roles import Permission, Role, permissions_of
from tutela.auth.sessions import log_in
from tutela.auth.users import create_user
from tutela.centre.intake import receive_report
from tutela.centre.models import CentreIndicator, CentreReport, Forwarding
from tutela.centre.providers import register_provider
from tutela.centre.triage import set_routing_rule
from tutela.db.database import Database
from tutela.messaging.signing import generate_key_file, sign_report
from tutela.nodes.centre import create_centre_app
from tutela.reporting.fields import ProviderIdentity
from tutela.reporting.report import build_report
from tutela.settings import Settings
from tutela.ui import audit_pages
from tutela.ui.access import LOGIN_CSRF_COOKIE, SESSION_COOKIE

PUBLIC = {("GET", "/ui"), ("GET", "/ui/login"), ("POST", "/ui/login"), ("GET", "/ui/static/{name}")}
# One person per role at least, so that every route is probed with every role.
PEOPLE = {
    "ana": "analyst",
    "bert": "analyst",
    "sena": "senior_analyst",
    "rita": "reviewer",
    "sven": "senior_reviewer",
    "aldo": "auditor",
    "adam": "administrator",
    "cora": "compliance_officer",
    "cleo": "case_officer",
    "sue": "supervisor",
}
OTHER = ProviderIdentity("Other Video Ltd", "Other Rep", "abuse@other.example", "IE")
BASE = "https://centre.test"


@pytest.fixture
def centre(
    tmp_path: Path, database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FastAPI, Database, list[int]]]:
    """A centre with three placeholder reports (two providers, one material) and its people."""
    passwords._dummy_hash.cache_clear()
    monkeypatch.setattr(passwords, "_hasher", lambda: CHEAP)
    for name, role in PEOPLE.items():
        create_user(database, name, PASSWORD, [role], actor="test")
    keys = {}
    with database.unit_of_work() as session:
        set_routing_rule(session, "DE", "lea-de", NOW)
        for identity in (PROVIDER, OTHER):
            keys[identity.name] = generate_key_file(tmp_path / f"{identity.name}.pem")
            pem = keys[identity.name].public_key_pem()
            register_provider(session, identity.name, pem, NOW, identity.country)
    ids = []
    for identity, case in ((PROVIDER, 1), (PROVIDER, 2), (OTHER, 3)):
        report = build_report(sample_input(case), identity, NOW)
        signed = sign_report(report, keys[identity.name], NOW)
        accepted = receive_report(
            database, signed.key_id, signed.body, signed.signature, f"k-{case}", NOW
        )
        ids.append(accepted.id)
    yield create_centre_app(settings, database), database, ids
    passwords._dummy_hash.cache_clear()


@asynccontextmanager
async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=BASE) as client,
    ):
        yield client


async def sign_in(client: httpx.AsyncClient, name: str) -> str:
    """Through the real login form; returns the CSRF token of the new session."""
    form = await client.get("/ui/login")
    token = form.cookies.get(LOGIN_CSRF_COOKIE) or ""
    answer = await client.post(
        "/ui/login", data={"csrf": token, "name": name, "password": PASSWORD}
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] in ("/ui/triage", "/ui/queue", "/ui/home")
    session = client.cookies.get(SESSION_COOKIE)
    assert session
    return issue_csrf_token(session)


def ui_routes(app: FastAPI) -> list[tuple[str, str, frozenset[str] | None]]:
    return [(m, p, d.get("roles")) for m, p, d in endpoints(app) if p.startswith("/ui")]


def test_every_console_route_declares_who_it_admits(
    centre: tuple[FastAPI, Database, list[int]],
) -> None:
    routes = ui_routes(centre[0])
    paths = {p for _, p, _ in routes}
    assert paths >= {"/ui/triage", "/ui/triage/reports/{report_id}", "/ui/audit"}
    assert not [(m, p) for m, p, roles in routes if roles is None and (m, p) not in PUBLIC]


def test_the_role_by_route_walk_probes_every_role() -> None:
    assert set(PEOPLE.values()) == {r.value for r in Role}


def test_the_audit_log_admits_only_the_roles_that_may_read_the_audit_trail(
    centre: tuple[FastAPI, Database, list[int]],
) -> None:
    declared = {roles for m, p, roles in ui_routes(centre[0]) if (m, p) == ("GET", "/ui/audit")}
    readers = {r.value for r in Role if Permission.READ_AUDIT in permissions_of([r])}
    assert declared == {frozenset(readers)}
    assert not readers & {"analyst", "senior_analyst"}


@pytest.mark.parametrize("who", ["anonymous", *PEOPLE])
def test_role_by_route(centre: tuple[FastAPI, Database, list[int]], who: str) -> None:
    app, database, _ = centre
    wrong = asyncio.run(_probe_all(app, database, who))
    assert not wrong


async def _probe_all(app: FastAPI, database: Database, who: str) -> list[str]:
    wrong = []
    async with client_of(app) as client:
        for method, path, roles in ui_routes(app):
            if (method, path) in PUBLIC:
                continue
            role = PEOPLE.get(who)
            allowed = role is not None and roles is not None and role in roles
            headers: dict[str, str] = {}
            data: dict[str, str] = {}
            if role is not None:
                signed = await asyncio.to_thread(log_in, database, who, PASSWORD, None)
                headers["Cookie"] = f"{SESSION_COOKIE}={signed.token}"
                data["csrf"] = issue_csrf_token(signed.token)
            # Report 9999 does not exist: an admitted POST changes nothing (404).
            url = re.sub(r"\{[a-z_]+\}", "9999", path)
            client.cookies.clear()
            answer = await client.request(method, url, headers=headers, data=data)
            location = answer.headers.get("location", "")
            to_login = method == "GET" and answer.status_code == 303 and location == "/ui/login"
            refused = answer.status_code in (401, 403) or to_login
            if refused == allowed:
                wrong.append(f"{who} {method} {path}: {answer.status_code} (allowed={allowed})")
            if who == "anonymous" and method == "GET" and not to_login:
                wrong.append(f"anonymous GET {path} not sent to the login form")
    return wrong


def test_analysts_set_aside_and_forward_and_it_is_audited(
    centre: tuple[FastAPI, Database, list[int]],
) -> None:
    app, database, ids = centre
    first, second, third = ids

    async def work() -> None:
        async with client_of(app) as ana:
            csrf = await sign_in(ana, "ana")
            queue = await ana.get("/ui/triage")
            assert queue.status_code == 200
            assert "Example Hosting BV" in queue.text and "Other Video Ltd" in queue.text
            assert "#1 · 3 reports" in queue.text  # one incident: the same placeholder hash
            page = await ana.get(f"/ui/triage/reports/{first}")
            assert page.status_code == 200
            assert PDQ_A in page.text and f"/ui/triage/reports/{third}" in page.text
            assert "Confirm as indicator" not in page.text  # not a senior analyst
            no_reasons = await ana.post(
                f"/ui/triage/reports/{first}/decision",
                data={"csrf": csrf, "decision": "unfounded", "reasons": " "},
            )
            assert no_reasons.status_code == 422
            no_csrf = await ana.post(
                f"/ui/triage/reports/{first}/decision",
                data={"decision": "unfounded", "reasons": "Placeholder: not within scope."},
            )
            assert no_csrf.status_code == 403
            done = await ana.post(
                f"/ui/triage/reports/{first}/decision",
                data={"csrf": csrf, "decision": "unfounded", "reasons": "Placeholder reasons."},
            )
            assert done.status_code == 303
            assert done.headers["location"] == f"/ui/triage/reports/{second}"
            refused = await ana.post(
                f"/ui/triage/reports/{second}/indicator",
                data={"csrf": csrf, "authority_confirmation": "REF-1"},
            )
            assert refused.status_code == 403
        async with client_of(app) as bert:
            csrf = await sign_in(bert, "bert")
            done = await bert.post(
                f"/ui/triage/reports/{second}/decision",
                data={"csrf": csrf, "decision": "forward"},
            )
            assert done.status_code == 303
            again = await bert.post(
                f"/ui/triage/reports/{first}/decision",
                data={"csrf": csrf, "decision": "forward"},
            )
            assert again.status_code == 422  # already assessed
        async with client_of(app) as sena:
            csrf = await sign_in(sena, "sena")
            made = await sena.post(
                f"/ui/triage/reports/{second}/indicator",
                data={"csrf": csrf, "authority_confirmation": "NL-AUTH-REF-1"},
            )
            assert made.status_code == 303
            page = await sena.get(f"/ui/triage/reports/{third}")
            assert "matches the centre's indicators" in page.text

    asyncio.run(work())
    with database.reader() as session:
        one, two = session.get(CentreReport, first), session.get(CentreReport, second)
        assert one is not None and one.status == "unfounded"
        assert one.unfounded_reasons == "Placeholder reasons."
        assert two is not None and two.status == "forwarded"
        recipients = session.scalars(
            select(Forwarding.recipient).where(Forwarding.report_id == second)
        )
        assert sorted(recipients) == ["europol", "lea-de"]
        assert session.scalars(select(CentreIndicator.analyst)).all()[0] == "sena"
        decisions = list_entries(session, action=Action.DECISION, limit=1000)
        views = list_entries(session, action=Action.VIEW, limit=1000)
    by_report = {(e.subject, e.details["decision"]) for e in decisions if e.subject}
    assert (("centre_report", str(first)), "unfounded") in by_report
    assert (("centre_report", str(second)), "forward") in by_report
    assert (("centre_report", str(second)), "confirm_indicator") in by_report
    assert {("centre_report", str(first)), ("centre_report", str(third))} <= {
        tuple(e.subject) for e in views if e.subject
    }


def test_an_auditor_reads_the_centre_audit_trail_filtered_a_page_at_a_time(
    centre: tuple[FastAPI, Database, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, database, ids = centre
    monkeypatch.setattr(audit_pages, "PAGE_SIZE", 3)

    async def work() -> None:
        async with client_of(app) as ana:
            csrf = await sign_in(ana, "ana")
            await ana.get(f"/ui/triage/reports/{ids[0]}")
            await ana.post(
                f"/ui/triage/reports/{ids[0]}/decision",
                data={"csrf": csrf, "decision": "unfounded", "reasons": "Placeholder reasons."},
            )
            assert (await ana.get("/ui/audit")).status_code == 403
        async with client_of(app) as aldo:
            await sign_in(aldo, "aldo")
            head = await aldo.get("/ui/audit")
            assert head.status_code == 200
            assert "chain intact" in head.text
            assert len(audit_rows(head.text)) == 3
            assert 'rel="prev"' not in head.text
            older = await aldo.get(link(head.text, "next"))
            assert audit_rows(older.text)[0] < audit_rows(head.text)[-1]
            newer = await aldo.get(link(older.text, "prev"))
            assert audit_rows(newer.text) == audit_rows(head.text)
            # By name or stored actor, action and subject: ana's one decision on the report.
            only = await aldo.get(
                "/ui/audit",
                params={"actor": "ana", "action": "decision", "subject_id": str(ids[0])},
            )
            assert len(audit_rows(only.text)) == 1
            assert "centre_report" in only.text and "Placeholder reasons." in only.text
            assert 'rel="next"' not in only.text
            # Reading the trail is recorded in it, under the reader's name.
            views = await aldo.get("/ui/audit", params={"subject_type": "audit_log"})
            assert len(audit_rows(views.text)) == 3
            assert views.text.count('">aldo</td>') == 3
        with database.unit_of_work() as session:
            session.execute(text("UPDATE audit_log SET actor = 'user:99' WHERE seq = 2"))
        async with client_of(app) as adam:
            await sign_in(adam, "adam")
            broken = await adam.get("/ui/audit")
            assert "chain broken at 2" in broken.text

    asyncio.run(work())


def audit_rows(html: str) -> list[int]:
    """The seq numbers of the audit page's rows, as shown (newest first)."""
    return [int(n) for n in re.findall(r'<tr class="a-[a-z_.]+">\s*<td>(\d+)</td>', html)]


def link(html: str, rel: str) -> str:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', html)
    assert found, f"no {rel} link"
    return found.group(1).replace("&amp;", "&")


def shortcut_keys(html: str) -> set[str]:
    """The keys the page's `?` overlay lists."""
    overlay = html[html.index('id="help"') :]
    return set(re.findall(r"<kbd>([^<]+)</kbd>", overlay[: overlay.index("</dl>")]))


def test_the_help_overlay_lists_the_keys_of_the_centre_console(
    centre: tuple[FastAPI, Database, list[int]],
) -> None:
    app, _, ids = centre

    async def work() -> None:
        async with client_of(app) as sena:
            await sign_in(sena, "sena")
            report = await sena.get(f"/ui/triage/reports/{ids[0]}")
            queue = await sena.get("/ui/triage")
        buttons = set(re.findall(r'data-key="([^"]+)"', report.text))
        assert buttons == {"x", "f", "i"}  # every assessment a senior analyst may choose
        for html in (report.text, queue.text):
            listed = shortcut_keys(html)
            assert buttons | {"j", "k", "Enter", "Esc", "q"} <= listed
            assert not listed & {"r", "c", "n", "e"}  # reveal, confirm, escalate: the provider's
            assert "reveal" not in html
        async with client_of(app) as aldo:
            await sign_in(aldo, "aldo")
            assert shortcut_keys((await aldo.get("/ui/audit")).text) == listed

    asyncio.run(work())


browser_only = needs_chromium
SHOTS = screenshots("centre")


@pytest.fixture
def browser_page(
    centre: tuple[FastAPI, Database, list[int]], settings: Settings
) -> Iterator[tuple[Any, str]]:
    """The centre served over HTTP on a free local port, and a page of Debian's chromium."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    import dataclasses
    import socket
    import threading

    import uvicorn

    _, database, _ = centre
    app = create_centre_app(dataclasses.replace(settings, console_insecure_cookies=True), database)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            thread.join(0.05)
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
            try:
                yield (
                    browser.new_page(viewport={"width": 1280, "height": 900}),
                    f"http://127.0.0.1:{port}",
                )
            finally:
                browser.close()
    finally:
        server.should_exit = True
        thread.join(10)


def sign_in_by_keyboard(page: Any, base: str, name: str) -> None:
    page.goto(f"{base}/ui/login")
    page.wait_for_selector("input[name=name]:focus")  # autofocus has landed
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")


@browser_only
def test_an_analyst_triages_by_keyboard_in_a_browser(
    centre: tuple[FastAPI, Database, list[int]], browser_page: tuple[Any, str]
) -> None:
    _, database, ids = centre
    page, base = browser_page
    sign_in_by_keyboard(page, base, "ana")
    page.wait_for_url("**/ui/triage")
    page.screenshot(path=str(SHOTS / "01-queue.png"))
    page.keyboard.press("j")
    page.keyboard.press("k")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/ui/triage/reports/{ids[0]}")
    page.keyboard.press("x")  # chooses unfounded and focuses the reasons field
    page.keyboard.type("Placeholder reasons typed in the browser.")
    page.screenshot(path=str(SHOTS / "02-report.png"), full_page=True)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/ui/triage/reports/{ids[1]}")
    page.keyboard.press("f")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/ui/triage/reports/{ids[2]}")
    page.keyboard.press("q")
    page.wait_for_url("**/ui/triage")
    page.screenshot(path=str(SHOTS / "03-after.png"))
    with database.reader() as session:
        statuses = [session.get(CentreReport, i) for i in ids]
        assert [s.status if s else None for s in statuses] == [
            "unfounded",
            "forwarded",
            "received",
        ]


@browser_only
def test_question_mark_on_the_triage_queue_shows_the_centre_shortcuts(
    browser_page: tuple[Any, str],
) -> None:
    page, base = browser_page
    sign_in_by_keyboard(page, base, "ana")
    page.wait_for_url("**/ui/triage")
    help_overlay = page.locator("#help")
    assert help_overlay.is_hidden()
    page.keyboard.press("?")
    help_overlay.wait_for(state="visible")
    page.screenshot(path=str(SHOTS / "04-help.png"))
    shown = help_overlay.inner_text()
    for centre_key in ("triage queue", "manifestly unfounded", "forward to Europol", "indicator"):
        assert centre_key in shown
    for provider_key in ("reveal", "confirm known material", "escalate", "not abuse", "case"):
        assert provider_key not in shown.lower()
    page.keyboard.press("Escape")
    help_overlay.wait_for(state="hidden")
