"""Fixtures for the blocking and delisting order tests: the Centre's URL list with placeholder
URLs (example domains and documentation addresses only), a provider that follows it over the
Centre's real HTTP app, and an authority that issues orders to it. Not a test module.

The three nodes share one test database here (their tables are apart); the three-node tests over
real HTTP use one database each.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select

from tutela.auth.users import create_user
from tutela.authority.access_issuing import issue_access_order
from tutela.authority.issuing import Issuer
from tutela.authority.providers import add_provider
from tutela.centre.providers import register_provider
from tutela.centre.url_list import add_url
from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.messaging.outbox_models import OutboxMessage
from tutela.messaging.signing import SigningKey, SigningWindow, generate_key_file
from tutela.nodes.centre import create_centre_app
from tutela.orders.authority_keys import add_authority_key
from tutela.orders.receiving import OrderRules, receive_order
from tutela.orders.states import OrderKind
from tutela.orders.url_list_feed import HttpUrlListClient, follow_url_list
from tutela.settings import Settings

PASSWORD = "placeholder-passphrase-for-tests"
PROVIDER = "Example Access BV"
ISSUER = Issuer(
    "Example Authority",
    "orders@authority.example",
    "NL",
    "http://authority.example",
    "http://centre.example",
)
# The Centre's list: two URLs on one host (different paths), an internationalised host, an IP.
LISTED = [
    "https://blocked.example/gallery/1?page=2",
    "https://blocked.example/other/path",
    "http://bücher.example/x",
    "http://192.0.2.7/p",
    "https://unordered.example/y",
]
RULES = OrderRules(SigningWindow.of(Settings()), timedelta(hours=24), provider_name=PROVIDER)


@dataclass
class Nodes:
    database: Database
    authority: SigningKey
    provider: SigningKey
    centre: SigningKey
    entries: dict[str, int]  # URL → the Centre's number


def nodes(database: Database, settings: Settings, tmp_path: Path) -> Nodes:
    """The URL list at the Centre, followed by the provider; the authority set up to order it."""
    centre = generate_key_file(tmp_path / "centre.pem")
    provider = generate_key_file(tmp_path / "provider.pem")
    authority = generate_key_file(tmp_path / "authority.pem")
    create_user(database, "sena", PASSWORD, ["senior_analyst"], actor="test")
    create_user(database, "admin-1", PASSWORD, ["administrator"], actor="test")
    create_user(database, "officer-1", PASSWORD, ["case_officer"], actor="test")
    create_user(database, "supervisor-1", PASSWORD, ["supervisor"], actor="test")
    entries = {url: add_url(database, "sena", url, "Placeholder reason.").id for url in LISTED}
    with database.unit_of_work() as session:
        register_provider(session, PROVIDER, provider.public_key_pem(), utc_now(), "NL")
    follow(database, settings, centre, provider)
    add_provider(
        database,
        "admin-1",
        PROVIDER,
        provider.public_key_pem(),
        "http://provider.example/v1/orders",
        "NL",
        ["internet_access"],
    )
    add_authority_key(database, "cli:test", ISSUER.name, authority.public_key_pem())
    return Nodes(database, authority, provider, centre, entries)


def follow(database: Database, settings: Settings, centre: SigningKey, provider: SigningKey) -> int:
    """The provider follows the Centre's list through the Centre's app; entries taken."""
    app = create_centre_app(settings, database, key=centre)
    with served(app) as base, httpx.Client() as http:
        client = HttpUrlListClient(http, provider)
        report = follow_url_list(database, client, base, centre.private_key.public_key(), utc_now())
    return report.added


@contextmanager
def served(app: FastAPI, port: int = 0) -> Iterator[str]:
    """`app` served over real HTTP on `port` (a free local one by default), in a thread; its
    base URL."""
    if not port:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            thread.join(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def issue(
    world: Nodes,
    urls: list[str],
    ends_at: datetime,
    kind: OrderKind = OrderKind.BLOCKING,
) -> str:
    """A case officer's order naming `urls` by their entries; its order id."""
    view = issue_access_order(
        world.database,
        "officer-1",
        PROVIDER,
        kind,
        [(world.entries[url], url) for url in urls],
        ends_at,
        "Placeholder reasons.",
        ISSUER,
        world.authority,
    )
    return view.order_id


def delivered(database: Database, order_id: str) -> dict[str, Any]:
    """The outbox payload the authority queued for the provider."""
    with database.reader() as session:
        message = session.scalars(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == order_id)
        ).one()
        return dict(message.payload)


def receive(world: Nodes, order_id: str, now: datetime | None = None) -> dict[str, Any]:
    """Deliver the queued order to the provider's receiving service; its receipt."""
    payload = delivered(world.database, order_id)
    answer, _ = receive_order(
        world.database,
        payload["key_id"],
        payload["body"].encode("utf-8"),
        payload["signature"],
        now or utc_now(),
        RULES,
    )
    return answer
