"""Open alerts reach /metrics (by kind, with failed messages by transport) and the administrators'
console page, where one is acknowledged."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest

from password_hashing import cheap_argon2  # noqa: F401  (fixture)
from tutela.auth.api_keys import create_api_key
from tutela.auth.csrf import issue_csrf_token
from tutela.auth.sessions import log_in
from tutela.auth.users import create_user
from tutela.db import Database
from tutela.errors import TransientDeliveryError
from tutela.messaging.outbox import deliver_due, enqueue
from tutela.messaging.transports import OutgoingMessage, SendResult, Transport
from tutela.nodes.provider import create_app
from tutela.operations.alerts import list_alerts, raise_alerts
from tutela.settings import Settings
from tutela.ui.access import SESSION_COOKIE

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


class Unreachable(Transport):
    name = "centre"

    @classmethod
    def create(cls, context: object) -> Unreachable:
        raise NotImplementedError

    def send(self, message: OutgoingMessage) -> SendResult:
        raise TransientDeliveryError("POST /v1/reports failed: ConnectError")


def failed_report_alert(database: Database, settings: Settings) -> int:
    with database.unit_of_work() as session:
        enqueue(session, "centre", "report", {}, "report-1", NOW)
    deliver_due(database, {"centre": Unreachable()}, NOW, max_attempts=1)
    (alert,) = raise_alerts(database, settings, NOW).raised
    return alert.id


async def fetch(
    database: Database, settings: Settings, *requests: tuple[str, str, dict[str, str]]
) -> list[httpx.Response]:
    app = create_app(settings, database=database)
    transport = httpx.ASGITransport(app=app)
    answers = []
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="https://testserver") as client,
    ):
        for method, path, cookies in requests:
            client.cookies.clear()
            client.cookies.update(cookies)
            if SESSION_COOKIE in cookies:
                headers = {"x-csrf-token": issue_csrf_token(cookies[SESSION_COOKIE])}
            else:
                headers = {"Authorization": f"Bearer {cookies.get('key', '')}"}
                client.cookies.clear()
            answers.append(await client.request(method, path, headers=headers))
    return answers


def test_metrics_show_open_alerts_by_kind_and_failed_messages_by_transport(
    database: Database, settings: Settings
) -> None:
    failed_report_alert(database, settings)
    _, key = create_api_key(database, "scraper", ["metrics"])
    (answer,) = asyncio.run(fetch(database, settings, ("GET", "/metrics", {"key": key})))
    assert 'tutela_open_alerts{kind="outbox_failed"} 1.0' in answer.text
    assert 'tutela_open_alerts{kind="flood"} 0.0' in answer.text
    assert 'tutela_failed_messages{transport="centre"} 1.0' in answer.text


@pytest.mark.usefixtures("cheap_argon2")
def test_an_administrator_sees_an_alert_in_the_console_and_acknowledges_it(
    database: Database, settings: Settings
) -> None:
    alert_id = failed_report_alert(database, settings)
    create_user(database, "ada", "correct horse battery", ["administrator"], actor="test")
    token = log_in(database, "ada", "correct horse battery", "192.0.2.1").token
    cookies = {SESSION_COOKIE: token}
    page, acknowledged, after = asyncio.run(
        fetch(
            database,
            settings,
            ("GET", "/ui/alerts", cookies),
            ("POST", f"/ui/alerts/{alert_id}/acknowledge", cookies),
            ("GET", "/ui/alerts", cookies),
        )
    )
    assert page.status_code == 200 and "outbox_failed" in page.text and "Acknowledge" in page.text
    assert acknowledged.status_code == 303
    assert "acknowledged by ada" in after.text
    with database.reader() as session:
        assert list_alerts(session, open_only=True) == []
