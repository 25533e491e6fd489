"""The generic HTTP layer of both nodes answers every failure as a typed error: integers no column
can hold give 422 (not 500) on every route that takes one, framework errors carry documented
codes, a defect's exception becomes a 500 problem that quotes nothing, and console pages get the
console's error page."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from password_hashing import cheap_argon2  # noqa: F401 (a fixture)
from provider_fixtures import make_key
from review_fixtures import PASSWORD
from tutela import errors
from tutela.auth.csrf import issue_csrf_token
from tutela.auth.roles import Role
from tutela.auth.sessions import log_in
from tutela.auth.users import create_user
from tutela.db.database import Database
from tutela.nodes.centre import create_centre_app
from tutela.nodes.provider import create_app
from tutela.settings import Settings
from tutela.ui.access import SESSION_COOKIE

BIG = "99999999999999999999"  # 67 bits
SECRET = "secret-words-of-the-request"


def int_path_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route with an integer path parameter, console pages included."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or context.path is None:
            continue
        if any(p.field_info.annotation is int for p in route.dependant.path_params):
            found += [(m, context.path) for m in sorted((context.methods or set()) - {"HEAD"})]
    return found


def documented_codes() -> set[str]:
    return {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.TutelaError)
    }


def everyone(database: Database) -> dict[str, str]:
    """Headers of a console session whose user holds every role, with its CSRF token."""
    create_user(database, "everyone", PASSWORD, list(Role), actor="test")
    token = log_in(database, "everyone", PASSWORD, None).token
    return {"Cookie": f"{SESSION_COOKIE}={token}", "X-CSRF-Token": issue_csrf_token(token)}


@asynccontextmanager
async def client_of(
    app: FastAPI, base_url: str = "http://node"
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=base_url) as client,
    ):
        yield client


@pytest.fixture
def provider(settings: Settings, database: Database, cheap_argon2: None) -> Iterator[FastAPI]:  # noqa: F811
    app = create_app(settings, database=database)
    app.state.test_headers = {"Authorization": f"Bearer {make_key(database)}"} | everyone(database)
    yield app


@pytest.fixture
def centre(settings: Settings, database: Database, cheap_argon2: None) -> Iterator[FastAPI]:  # noqa: F811
    app = create_centre_app(settings, database)
    app.state.test_headers = everyone(database)
    yield app


async def _answers_to_big_ids(app: FastAPI) -> list[tuple[str, str, int, str]]:
    answers = []
    async with client_of(app) as client:
        for method, path in int_path_routes(app):
            url = "".join(BIG if part.startswith("{") else part for part in _split(path))
            response = await client.request(method, url, headers=app.state.test_headers)
            answers.append((method, path, response.status_code, response.headers["content-type"]))
    return answers


def _split(path: str) -> list[str]:
    parts, rest = [], path
    while "{" in rest:
        before, _, after = rest.partition("{")
        name, _, rest = after.partition("}")
        parts += [before, "{" + name + "}"]
    return [*parts, rest]


def test_integers_beyond_64_bits_in_provider_paths_are_refused_not_failed(
    provider: FastAPI,
) -> None:
    answers = asyncio.run(_answers_to_big_ids(provider))
    assert len(answers) >= 8
    assert [a for a in answers if a[2] not in (404, 422)] == []
    api = [a for a in answers if not a[1].startswith("/ui")]
    assert {a[3] for a in api} == {"application/problem+json"}


def test_integers_beyond_64_bits_in_centre_console_paths_are_refused_not_failed(
    centre: FastAPI,
) -> None:
    answers = asyncio.run(_answers_to_big_ids(centre))
    assert any(a[1].startswith("/ui/triage") for a in answers)
    assert [a for a in answers if a[2] not in (401, 404, 422)] == []


def test_integer_beyond_64_bits_is_an_invalid_input_problem(provider: FastAPI) -> None:
    async def get() -> httpx.Response:
        async with client_of(provider) as client:
            return await client.get(f"/v1/items/{BIG}", headers=provider.state.test_headers)

    answer = asyncio.run(get())
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_input"


@pytest.mark.parametrize(
    "url", ["/ui/audit?action=a%00b", "/v1/items/1?x=%00", "/v1/items/a%00b", "/ui/audit?before=0"]
)
def test_a_nul_in_the_url_is_an_invalid_input_not_a_failure(provider: FastAPI, url: str) -> None:
    async def get() -> httpx.Response:
        async with client_of(provider) as client:
            return await client.get(url, headers=provider.state.test_headers)

    answer = asyncio.run(get())
    assert answer.status_code in (200, 404, 422)
    if "%00" in url:
        assert answer.status_code == 422


def test_a_method_a_path_does_not_answer_is_a_documented_problem(provider: FastAPI) -> None:
    async def put() -> httpx.Response:
        async with client_of(provider) as client:
            return await client.put("/healthz")

    answer = asyncio.run(put())
    assert answer.status_code == 405
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] in documented_codes()
    assert answer.headers["allow"] == "GET"


def test_a_defect_answers_a_500_problem_that_quotes_nothing(
    provider: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    @provider.get("/v1/defect")
    def defect() -> None:
        raise RuntimeError(SECRET)

    async def get() -> httpx.Response:
        async with client_of(provider) as client:
            return await client.get("/v1/defect")

    with caplog.at_level(logging.ERROR):
        answer = asyncio.run(get())
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == errors.InternalError.code
    assert SECRET not in answer.text
    assert "RuntimeError" in caplog.text and SECRET not in caplog.text


def test_a_defect_on_a_console_page_shows_the_console_error_page(provider: FastAPI) -> None:
    @provider.get("/ui/defect")
    def defect() -> None:
        raise RuntimeError(SECRET)

    async def get() -> httpx.Response:
        async with client_of(provider) as client:
            return await client.get("/ui/defect")

    answer = asyncio.run(get())
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("text/html")
    assert f'data-code="{errors.InternalError.code}"' in answer.text
    assert SECRET not in answer.text


def test_a_console_page_that_does_not_exist_shows_the_console_error_page(
    provider: FastAPI,
) -> None:
    async def get() -> httpx.Response:
        async with client_of(provider) as client:
            return await client.get("/ui/no-such-page")

    answer = asyncio.run(get())
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert 'data-code="not_found"' in answer.text


def test_documented_codes_include_every_framework_error() -> None:
    from tutela.api.problems import FRAMEWORK_CODES

    assert set(FRAMEWORK_CODES.values()) <= documented_codes()
