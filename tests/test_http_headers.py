"""Every answer of both nodes carries the security headers, error pages and problems included;
HSTS goes with answers over HTTPS, or with every answer when a TLS proxy fronts the node; and
/metrics answers only a key with the `metrics` scope."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from provider_fixtures import make_key
from tutela.auth.api_keys import SCOPES
from tutela.db.database import Database
from tutela.nodes.centre import create_centre_app
from tutela.nodes.provider import create_app
from tutela.security_headers import SECURITY_HEADERS
from tutela.settings import Settings

# A page, an API answer, an API problem, a console error page, the login form.
PROVIDER_PATHS = ("/healthz", "/v1/items/1", "/no-such-path", "/ui/no-such-page", "/ui/login")
CENTRE_PATHS = ("/healthz", "/v1/reports/1/status", "/ui/no-such-page", "/ui/login")


@asynccontextmanager
async def client_of(app: FastAPI, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=base_url) as client,
    ):
        yield client


def answers(app: FastAPI, paths: tuple[str, ...], base_url: str) -> list[httpx.Response]:
    async def fetch() -> list[httpx.Response]:
        async with client_of(app, base_url) as client:
            return [await client.get(path) for path in paths]

    return asyncio.run(fetch())


def provider(settings: Settings, database: Database) -> FastAPI:
    return create_app(settings, database=database)


def centre(settings: Settings, database: Database) -> FastAPI:
    return create_centre_app(settings, database)


NODES = {"provider": (provider, PROVIDER_PATHS), "centre": (centre, CENTRE_PATHS)}


@pytest.mark.parametrize("node", sorted(NODES))
def test_every_answer_carries_the_security_headers(
    settings: Settings, database: Database, node: str
) -> None:
    build, paths = NODES[node]
    for answer in answers(build(settings, database), paths, "http://node"):
        missing = {name for name in SECURITY_HEADERS if name not in answer.headers}
        assert not missing, (answer.request.url.path, answer.status_code)


def test_console_error_page_carries_the_security_headers(
    settings: Settings, database: Database
) -> None:
    (page,) = answers(provider(settings, database), ("/ui/no-such-page",), "http://node")
    assert page.status_code == 404
    assert page.headers["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    assert page.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("node", sorted(NODES))
def test_answers_over_https_carry_hsts(settings: Settings, database: Database, node: str) -> None:
    build, paths = NODES[node]
    for answer in answers(build(settings, database), paths, "https://node"):
        assert answer.headers["strict-transport-security"].startswith("max-age="), answer.url


@pytest.mark.parametrize("node", sorted(NODES))
def test_answers_over_plain_http_carry_no_hsts(
    settings: Settings, database: Database, node: str
) -> None:
    build, paths = NODES[node]
    for answer in answers(build(settings, database), paths, "http://node"):
        assert "strict-transport-security" not in answer.headers


@pytest.mark.parametrize("node", sorted(NODES))
def test_behind_a_tls_proxy_every_answer_carries_hsts(
    settings: Settings, database: Database, node: str
) -> None:
    build, paths = NODES[node]
    proxied = dataclasses.replace(settings, behind_tls=True)
    for answer in answers(build(proxied, database), paths, "http://node"):
        assert answer.headers["strict-transport-security"].startswith("max-age="), answer.url


def test_api_docs_page_keeps_its_scripts(settings: Settings, database: Database) -> None:
    # Swagger UI loads from its CDN; the console's script policy would blank the page.
    (docs,) = answers(provider(settings, database), ("/docs",), "http://node")
    assert docs.status_code == 200
    assert "content-security-policy" not in docs.headers
    assert docs.headers["x-content-type-options"] == "nosniff"


def metrics_with(settings: Settings, database: Database, key: str | None) -> httpx.Response:
    async def fetch() -> httpx.Response:
        async with client_of(provider(settings, database), "http://node") as client:
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            return await client.get("/metrics", headers=headers)

    return asyncio.run(fetch())


def test_metrics_refuse_a_request_without_a_key(settings: Settings, database: Database) -> None:
    answer = metrics_with(settings, database, None)
    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthorized"
    assert "tutela_" not in answer.text


def test_metrics_refuse_a_key_without_the_metrics_scope(
    settings: Settings, database: Database
) -> None:
    others = tuple(scope for scope in SCOPES if scope != "metrics")
    answer = metrics_with(settings, database, make_key(database, "platform", others))
    assert answer.status_code == 403
    assert answer.json()["code"] == "forbidden"


def test_metrics_answer_a_scraper_bearing_a_metrics_key(
    settings: Settings, database: Database
) -> None:
    answer = metrics_with(settings, database, make_key(database, "prometheus", ("metrics",)))
    assert answer.status_code == 200
    assert "tutela_http_requests_total" in answer.text
