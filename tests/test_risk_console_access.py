"""Who may use the risk register's pages: compliance officers only; every form needs its CSRF
token; a refused change writes nothing."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from password_hashing import CHEAP
from review_fixtures import PASSWORD
from test_console_access import endpoints
from tutela.auth import passwords
from tutela.auth.csrf import issue_csrf_token
from tutela.auth.sessions import log_in
from tutela.auth.users import create_user
from tutela.db.database import Database, open_database
from tutela.nodes.provider import create_app
from tutela.risk.models import RiskAssessment
from tutela.settings import Settings
from tutela.ui.access import SESSION_COOKIE

PEOPLE = {
    "cora": "compliance_officer",
    "rita": "reviewer",
    "aldo": "auditor",
    "ada": "administrator",
}


@pytest.fixture
def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FastAPI, Database]]:
    passwords._dummy_hash.cache_clear()
    monkeypatch.setattr(passwords, "_hasher", lambda: CHEAP)
    database = open_database(Settings(data_dir=tmp_path / "data"))
    for name, role in PEOPLE.items():
        create_user(database, name, PASSWORD, [role], actor="test")
    try:
        yield create_app(Settings(data_dir=tmp_path / "data"), database=database), database
    finally:
        database.close()
        passwords._dummy_hash.cache_clear()


def risk_routes(app: FastAPI) -> list[tuple[str, str]]:
    return [(m, p) for m, p, _ in endpoints(app) if p.startswith("/ui/risk")]


async def statuses(
    app: FastAPI, database: Database, who: str, *, csrf: bool = True
) -> dict[tuple[str, str], int]:
    found = {}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://testserver"
        ) as client,
    ):
        for method, path in risk_routes(app):
            signed = await asyncio.to_thread(log_in, database, who, PASSWORD, None)
            headers = {"Cookie": f"{SESSION_COOKIE}={signed.token}"}
            data = {"csrf": issue_csrf_token(signed.token)} if csrf else {}
            url = re.sub(r"\{[a-z_]+\}", "1", path)
            response = await client.request(method, url, headers=headers, data=data)
            found[(method, path)] = response.status_code
    return found


def test_the_register_has_its_pages(node: tuple[FastAPI, Database]) -> None:
    routes = risk_routes(node[0])
    assert ("GET", "/ui/risk") in routes
    assert ("POST", "/ui/risk/assessments/{assessment_id}/sign-off") in routes
    assert ("POST", "/ui/risk/export") in routes


@pytest.mark.parametrize("who", ["rita", "aldo", "ada"])
def test_other_roles_are_refused_every_risk_page(node: tuple[FastAPI, Database], who: str) -> None:
    app, database = node
    found = asyncio.run(statuses(app, database, who))
    assert set(found.values()) == {403}


def test_a_compliance_officer_is_admitted_to_every_risk_page(
    node: tuple[FastAPI, Database],
) -> None:
    app, database = node
    found = asyncio.run(statuses(app, database, "cora"))
    # Admitted: the pages answer, or the domain says what is wrong with the (empty) form.
    assert not {route: s for route, s in found.items() if s in (401, 403) or s >= 500}


def test_a_form_without_its_csrf_token_is_refused_and_writes_nothing(
    node: tuple[FastAPI, Database],
) -> None:
    app, database = node
    found = asyncio.run(statuses(app, database, "cora", csrf=False))
    posts = {route: s for route, s in found.items() if route[0] == "POST"}
    assert posts and set(posts.values()) == {403}
    with database.reader() as session:
        assert session.scalar(select(func.count()).select_from(RiskAssessment)) == 0
