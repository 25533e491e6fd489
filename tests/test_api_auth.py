"""Every /v1 endpoint refuses a missing key, a wrong key and a key without its scope; and every
error is a problem-details document."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine

from provider_fixtures import make_key, running_node
from tutela.api.deps import AUTH_KEY, CENTRE_SIGNATURE, SCOPE_KEY
from tutela.auth import api_keys
from tutela.auth.api_keys import SCOPES, ApiKeyCache, revoke_api_key
from tutela.db.database import Database, open_database
from tutela.errors import Forbidden, Unauthorized
from tutela.nodes.provider import create_app
from tutela.settings import Settings


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, Database]]:
    tmp = Path(tmp_path_factory.mktemp("auth"))
    settings = Settings(data_dir=tmp / "data")
    database = open_database(settings)
    with (
        running_node(settings, tmp, workers=0) as running,
        httpx.Client(base_url=running.url, timeout=30) as client,
    ):
        yield client, database
    database.close()


def v1_operations() -> list[tuple[str, str, dict[str, object]]]:
    # The route table only: an unmigrated in-memory database is never queried.
    app = create_app(Settings(), database=Database(create_engine("sqlite://")))
    found = []
    for path, operations in app.openapi()["paths"].items():
        if path.startswith("/v1/") or path == "/metrics":
            for method, operation in sorted(operations.items()):
                found.append((method.upper(), path, operation))
    return found


OPERATIONS = v1_operations()
# Routes for platforms, by API key and scope.
ROUTES = [
    (method, path, operation.get(SCOPE_KEY))
    for method, path, operation in OPERATIONS
    if AUTH_KEY not in operation
]
# Routes only the EU Centre may call, by its signature.
CENTRE_ROUTES = [
    (method, path)
    for method, path, operation in OPERATIONS
    if operation.get(AUTH_KEY) == CENTRE_SIGNATURE
]


def test_every_v1_route_declares_how_it_authenticates() -> None:
    for method, path, operation in OPERATIONS:
        declared = operation.get(SCOPE_KEY) or operation.get(AUTH_KEY)
        assert declared, f"{method} {path} declares neither a scope nor another authentication"
    assert CENTRE_ROUTES == [("POST", "/v1/centre-messages")]


@pytest.mark.parametrize(("method", "path"), CENTRE_ROUTES)
def test_centre_route_refuses_unsigned_and_wrongly_signed_requests(
    node: tuple[httpx.Client, Database], method: str, path: str
) -> None:
    client, database = node
    key = make_key(database, f"platform-{path.replace('/', '-')}", tuple(SCOPES))
    for headers in (
        {},
        {"Authorization": f"Bearer {key}"},
        {"Tutela-Key-Id": "0" * 16, "Tutela-Signature": "AAAA"},
    ):
        answer = client.request(method, path, content=b"{}", headers=headers)
        assert answer.status_code == 401, headers
        assert answer.headers["content-type"] == "application/problem+json"


def test_route_table_covers_every_family() -> None:
    assert {scope for _, _, scope in ROUTES} == set(SCOPES)


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_endpoint_refuses_missing_wrong_and_unscoped_keys(
    node: tuple[httpx.Client, Database], method: str, path: str, scope: str
) -> None:
    client, database = node
    url = path.replace("{ident}", "1")
    missing = client.request(method, url)
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["code"] == "unauthorized"
    wrong = client.request(method, url, headers={"Authorization": "Bearer tut_" + "x" * 43})
    assert wrong.status_code == 401
    others = tuple(s for s in SCOPES if s != scope)
    name = f"without-{method}-{path}".replace("/", "-").replace("{", "").replace("}", "")
    key = make_key(database, name.replace("--", "-"), others)
    unscoped = client.request(method, url, headers={"Authorization": f"Bearer {key}"})
    assert unscoped.status_code == 403
    assert unscoped.json()["code"] == "forbidden"


def test_revoked_key_is_refused(node: tuple[httpx.Client, Database]) -> None:
    client, database = node
    key = make_key(database, "soon-revoked", ("items:read",))
    revoke_api_key(database, "soon-revoked")
    answer = client.get("/v1/items/1", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 401


def test_unknown_path_and_method_are_problems(node: tuple[httpx.Client, Database]) -> None:
    client, _ = node
    assert client.get("/nowhere").json()["code"] == "not_found"
    answer = client.put("/healthz")
    assert answer.status_code == 405 and answer.json()["code"] == "method_not_allowed"


def test_invalid_body_is_invalid_input(node: tuple[httpx.Client, Database]) -> None:
    client, database = node
    key = make_key(database, "writer", ("items:write",))
    answer = client.post(
        "/v1/items", json={"metadata": {}}, headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_input"
    broken = client.post(
        "/v1/items",
        content=b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\ncut short',
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": "multipart/form-data; boundary=b",
        },
    )
    assert broken.status_code == 422 and "closing boundary" in broken.json()["detail"]


def test_oversized_upload_is_refused_while_streaming(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    database = open_database(settings)
    key = make_key(database, "big", ("items:write",))
    with (
        running_node(settings, tmp_path, workers=0, TUTELA_MAX_FILE_BYTES="1000") as running,
        httpx.Client(base_url=running.url, timeout=30) as client,
    ):
        answer = client.post(
            "/v1/items",
            headers={"Authorization": f"Bearer {key}"},
            files={"file": ("x", b"\0" * 2000)},
            data={"metadata": '{"item_id": "big"}'},
        )
        assert answer.status_code == 413 and answer.json()["code"] == "too_large"
        huge = client.post(
            "/v1/items",
            headers={"Authorization": f"Bearer {key}"},
            files={"file": ("x", b"\0" * 400_000)},
            data={"metadata": '{"item_id": "huge"}'},
        )
        assert huge.status_code == 413 and huge.json()["code"] == "too_large"
    database.close()


def test_health_needs_no_key_and_metrics_a_metrics_key(node: tuple[httpx.Client, Database]) -> None:
    client, database = node
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"
    assert client.get("/metrics").status_code == 401
    key = make_key(database, "prometheus", ("metrics",))
    metrics = client.get("/metrics", headers={"Authorization": f"Bearer {key}"}).text
    assert "tutela_http_requests_total" in metrics and "tutela_queue_depth" in metrics


def test_checked_key_is_trusted_for_a_second_then_asked_again(tmp_path: Path) -> None:
    """The API's key cache: no database read while a key is fresh; revocation bites after ttl."""
    database = open_database(Settings(data_dir=tmp_path / "data"))
    key = make_key(database, "cached", ("items:read",))
    now = [100.0]
    cache = ApiKeyCache(database, ttl_s=1.0, clock=lambda: now[0])
    assert cache.cached(key, "items:read") is None  # never checked yet
    assert cache.authenticate(key, "items:read").name == "cached"
    revoke_api_key(database, "cached")
    assert cache.cached(key, "items:read") is not None  # trusted within the second
    with pytest.raises(Forbidden):
        cache.cached(key, "items:write")  # scopes still apply to a cached key
    now[0] += 1.0
    assert cache.cached(key, "items:read") is None
    with pytest.raises(Unauthorized):
        cache.authenticate(key, "items:read")
    assert cache.cached("tut_wrong", "items:read") is None
    database.close()


def test_requests_missing_the_cache_at_once_share_one_database_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A busy client's entry runs out for all its requests in flight at once; each asking the
    # database took a pooled connection apiece (and opened new ones past the pool's size).
    database = open_database(Settings(data_dir=tmp_path / "data"))
    key = make_key(database, "busy", ("items:write",))
    cache = ApiKeyCache(database)
    reads = []
    asked = api_keys.authenticate

    def slow_read(*args: object) -> object:
        reads.append(1)
        time.sleep(0.2)  # a database under load: the others arrive meanwhile
        return asked(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(api_keys, "authenticate", slow_read)
    with ThreadPoolExecutor(32) as pool:
        views = list(pool.map(lambda _: cache.authenticate(key, "items:write"), range(32)))
    assert {view.name for view in views} == {"busy"}
    assert len(reads) == 1
    with pytest.raises(Unauthorized):
        cache.authenticate("tut_" + "x" * 40, "items:write")  # a wrong key is still refused
    database.close()
