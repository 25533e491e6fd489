"""A platform cannot make the node POST to the node's own machine or private network: webhook
URLs at loopback, private, link-local or reserved addresses are refused unless the operator
allows them (TUTELA_WEBHOOK_ALLOW_PRIVATE)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from provider_fixtures import in_process_client
from tutela.db.database import Database
from tutela.settings import Settings

PRIVATE = [
    "http://127.0.0.1:8080/hooks",
    "http://localhost/hooks",
    "http://api.localhost/hooks",
    "http://[::1]/hooks",
    "http://10.1.2.3/hooks",
    "http://192.168.0.10/hooks",
    "http://169.254.169.254/latest/meta-data",
    "http://0.0.0.0/hooks",
]


def register(settings: Settings, database: Database, url: str) -> int:
    async def post() -> int:
        async with in_process_client(settings, database) as client:
            answer = await client.post("/v1/webhooks", json={"url": url})
            return answer.status_code

    return asyncio.run(post())


@pytest.mark.parametrize("url", PRIVATE)
def test_a_webhook_at_a_private_or_loopback_address_is_refused(
    settings: Settings, database: Database, url: str
) -> None:
    assert register(settings, database, url) == 422


def test_a_webhook_at_a_public_name_is_registered(settings: Settings, database: Database) -> None:
    assert register(settings, database, "https://hooks.platform.example/tutela") == 201


def test_the_operator_may_allow_private_webhook_targets(
    settings: Settings, database: Database
) -> None:
    allowed = dataclasses.replace(settings, webhook_allow_private=True)
    assert register(allowed, database, "http://127.0.0.1:8080/hooks") == 201
