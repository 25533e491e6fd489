"""Every page and API route of the provider app admits exactly whom it declares: each console
role, anonymous visitors and API keys, walked over `app.routes` so a new route cannot slip by."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Route

from password_hashing import CHEAP
from review_fixtures import PASSWORD, with_vault
from tutela.api.deps import SCOPE_KEY
from tutela.auth import passwords
from tutela.auth.api_keys import create_api_key
from tutela.auth.csrf import issue_csrf_token
from tutela.auth.roles import Role
from tutela.auth.sessions import log_in
from tutela.auth.users import create_user
from tutela.db.database import Database, open_database
from tutela.nodes.provider import create_app
from tutela.settings import Settings
from tutela.ui.access import LOGIN_CSRF_COOKIE, ROLES_ATTRIBUTE, SESSION_COOKIE

# Open to anyone: health for probes, API docs, the login form and static files.
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/ui"),
    ("GET", "/ui/login"),
    ("POST", "/ui/login"),
    ("GET", "/ui/static/{name}"),
}
# Authenticated by the centre's signature (or, for orders, an authority's), which no console
# user or API key carries.
CENTRE_SIGNED = {
    ("POST", "/v1/centre-messages"),
    ("POST", "/v1/orders"),
    ("POST", "/v1/orders/answers"),
}
PRINCIPALS = ["anonymous", "key:all", "key:hash", *[f"role:{r.value}" for r in Role]]
REFUSED = {401, 403}


def declared_roles(dependant: Dependant) -> frozenset[str] | None:
    for dependency in dependant.dependencies:
        roles = getattr(dependency.call, ROLES_ATTRIBUTE, None)
        if roles is not None:
            return frozenset(str(r) for r in roles)
        inner = declared_roles(dependency)
        if inner is not None:
            return inner
    return None


def endpoints(app: FastAPI) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path, declaration) of every route, those of included routers too (this FastAPI
    keeps an included router as one entry of `app.routes`; `iter_route_contexts` unfolds it)."""
    for context in iter_route_contexts(app.routes):
        original = context.original_route
        if not isinstance(original, Route) or context.path is None:
            continue
        for method in sorted((context.methods or set()) - {"HEAD"}):
            declaration: dict[str, Any] = {}
            if isinstance(original, APIRoute):
                roles = declared_roles(original.dependant)
                if roles is not None:
                    declaration["roles"] = roles
                scope = (original.openapi_extra or {}).get(SCOPE_KEY)
                if scope:
                    declaration["scope"] = scope
            yield method, context.path, declaration


def expected_allowed(method: str, path: str, declaration: dict[str, Any], who: str) -> bool:
    if (method, path) in PUBLIC:
        return True
    if (method, path) in CENTRE_SIGNED:
        return False
    if "roles" in declaration:
        return who.startswith("role:") and who[5:] in declaration["roles"]
    scope = declaration["scope"]
    return who == "key:all" or (who == "key:hash" and scope == "hash")


@pytest.fixture(scope="module")
def node(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[FastAPI, Database, dict[str, str]]]:
    passwords._dummy_hash.cache_clear()
    original = passwords._hasher
    passwords._hasher = lambda: CHEAP  # type: ignore[assignment]
    tmp: Path = tmp_path_factory.mktemp("access")
    settings = with_vault(Settings(data_dir=tmp / "data"))
    database = open_database(settings)
    for role in Role:
        create_user(database, f"u-{role.value}", PASSWORD, [role], actor="test")
    keys = {
        "key:all": create_api_key(
            database, "all", ["hash", "match", "items:write", "items:read", "webhooks", "metrics"]
        )[1],
        "key:hash": create_api_key(database, "hashonly", ["hash"])[1],
    }
    app = create_app(settings, database=database)
    try:
        yield app, database, keys
    finally:
        database.close()
        passwords._hasher = original
        passwords._dummy_hash.cache_clear()


def test_every_route_declares_who_it_admits(node: tuple[FastAPI, Database, dict[str, str]]) -> None:
    app = node[0]
    undeclared = [
        (m, p) for m, p, d in endpoints(app) if not d and (m, p) not in PUBLIC | CENTRE_SIGNED
    ]
    assert not undeclared
    assert any("roles" in d for _, _, d in endpoints(app))


@pytest.mark.parametrize("who", PRINCIPALS)
def test_each_principal_is_admitted_or_refused_as_declared(
    node: tuple[FastAPI, Database, dict[str, str]], who: str
) -> None:
    app, database, keys = node
    wrong = asyncio.run(_probe_all(app, database, keys, who))
    assert not wrong


async def _probe_all(app: FastAPI, database: Database, keys: dict[str, str], who: str) -> list[str]:
    wrong = []
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="https://testserver") as client,
    ):
        for method, path, declaration in endpoints(app):
            allowed = expected_allowed(method, path, declaration, who)
            status, location = await _probe(client, database, keys, who, method, path)
            # Pages send visitors without a session to the login form; other requests get 401
            # (so logout's own redirect to the form is not a refusal).
            to_login = method == "GET" and status == 303 and location.endswith("/ui/login")
            refused = status in REFUSED or to_login
            if refused == allowed:
                wrong.append(f"{who} {method} {path}: {status} (allowed={allowed})")
    return wrong


async def _probe(
    client: httpx.AsyncClient,
    database: Database,
    keys: dict[str, str],
    who: str,
    method: str,
    path: str,
) -> tuple[int, str]:
    url = re.sub(r"\{name\}", "console.css", path)
    url = re.sub(r"\{[a-z_]+\}", "1", url)
    headers: dict[str, str] = {}
    data: dict[str, str] = {}
    if who.startswith("key:"):
        headers["Authorization"] = f"Bearer {keys[who]}"
    elif who.startswith("role:"):
        # A fresh session per request: a probe of /ui/logout must not end the next probe's.
        signed = await asyncio.to_thread(log_in, database, f"u-{who[5:]}", PASSWORD, None)
        headers["Cookie"] = f"{SESSION_COOKIE}={signed.token}"
        headers["X-CSRF-Token"] = data["csrf"] = issue_csrf_token(signed.token)
    if (method, path) == ("POST", "/ui/login"):
        # Public, with the form's own CSRF cookie: fetch the form first, as a browser does, and
        # sign in for real (failed attempts would lock the test client's address).
        form = await client.get("/ui/login")
        token = form.cookies.get(LOGIN_CSRF_COOKIE) or ""
        headers["Cookie"] = f"{LOGIN_CSRF_COOKIE}={token}"
        data = {"csrf": token, "name": "u-auditor", "password": PASSWORD}
    client.cookies.clear()
    if method == "GET":
        response = await client.get(url, headers=headers)
    elif url.startswith("/ui"):
        response = await client.request(method, url, headers=headers, data=data)
    else:
        response = await client.request(method, url, headers=headers, json={})
    return response.status_code, response.headers.get("location", "")
