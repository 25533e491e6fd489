"""Login limits count the real client: X-Forwarded-For is believed only from the reverse proxies
named in TUTELA_TRUSTED_PROXIES, so a client cannot pick the address it is counted under."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from password_hashing import cheap_argon2  # noqa: F401  (fixture)
from tutela.audit.log import Action, list_entries
from tutela.auth.client_addresses import client_address
from tutela.db import Database
from tutela.nodes.provider import create_app
from tutela.settings import Settings
from tutela.ui.access import LOGIN_CSRF_COOKIE

PROXY = "10.0.0.5"


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_address("198.51.100.7", "203.0.113.1", ()) == "198.51.100.7"


def test_a_header_from_a_peer_that_is_not_a_trusted_proxy_is_ignored() -> None:
    assert client_address("198.51.100.7", "203.0.113.1", ("10.0.0.0/8",)) == "198.51.100.7"


def test_behind_a_trusted_proxy_the_client_is_the_last_untrusted_hop() -> None:
    # A client may send its own X-Forwarded-For; the proxy appends what it saw, on the right.
    chain = "192.0.2.99, 203.0.113.1, 10.0.0.7"
    assert client_address(PROXY, chain, ("10.0.0.0/8",)) == "203.0.113.1"


def test_a_malformed_forwarded_chain_falls_back_to_the_peer() -> None:
    assert client_address(PROXY, "not-an-address", ("10.0.0.0/8",)) == PROXY


def test_a_malformed_trusted_proxy_setting_stops_start_up() -> None:
    from tutela.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="TUTELA_TRUSTED_PROXIES"):
        Settings.from_env({"TUTELA_TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"})


def failed_login_address(
    database: Database, settings: Settings, forwarded_for: str, trusted: tuple[str, ...]
) -> object:
    configured = Settings(
        data_dir=settings.data_dir,
        database_url=settings.database_url,
        trusted_proxies=trusted,
        console_insecure_cookies=True,
    )
    app = create_app(configured, database=database)
    asyncio.run(_fail_login(app, forwarded_for))
    with database.reader() as session:
        (entry,) = list_entries(session, action=Action.LOGIN_FAILED)
    return entry.details["address"]


async def _fail_login(app: FastAPI, forwarded_for: str) -> None:
    transport = httpx.ASGITransport(app=app, client=(PROXY, 40000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="https://testserver") as client,
    ):
        await client.get("/ui/login")
        csrf = client.cookies.get(LOGIN_CSRF_COOKIE) or ""
        await client.post(
            "/ui/login",
            data={"name": "nobody", "password": "wrong", "csrf": csrf},
            headers={"X-Forwarded-For": forwarded_for},
        )


@pytest.mark.usefixtures("cheap_argon2")
def test_the_console_login_ignores_x_forwarded_for_unless_the_peer_is_a_trusted_proxy(
    database: Database, settings: Settings
) -> None:
    assert failed_login_address(database, settings, "203.0.113.1", ()) == PROXY


@pytest.mark.usefixtures("cheap_argon2")
def test_the_console_login_counts_the_forwarded_client_behind_a_trusted_proxy(
    database: Database, settings: Settings
) -> None:
    assert failed_login_address(database, settings, "203.0.113.1", ("10.0.0.0/8",)) == "203.0.113.1"


def test_tutela_serve_leaves_x_forwarded_for_to_the_app(
    cli_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn's own proxy_headers would believe the header from 127.0.0.1 whatever the
    setting says, before the app sees the request."""
    import uvicorn

    from tutela.cli import main

    ran: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: ran.update(options))
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--workers", "0", "--hash-workers", "1"])
    assert exited.value.code in (0, None)
    assert ran["proxy_headers"] is False
