"""The provider's order queue in the review console, served over HTTP with a clock the test moves:
a compliance officer sees each received removal order with its time left and the marks at 50 %
and 90 % of the time, files an impediment for an item through the form (it leaves the clock; the
signed execution report is queued and shown), and nobody else is admitted. Past 50 % and 90 %
the operator's alerts hold one escalation alert per order, and /metrics counts the orders at
each level."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from blocking_fixtures import served
from order_fixtures import PROVIDER, removal_order, signed_order, trusted_authority, uploads
from password_hashing import cheap_argon2  # noqa: F401  (a fixture)
from provider_fixtures import make_key
from tutela.api.order_metrics import OrderCollector
from tutela.auth.csrf import issue_csrf_token
from tutela.auth.users import create_user
from tutela.clock import FixedClock
from tutela.db.database import Database, open_database
from tutela.messaging.outbox_models import OutboxMessage
from tutela.messaging.signing import (
    SigningWindow,
    default_key_file,
    generate_key_file,
    load_key_file,
)
from tutela.nodes.provider import create_app
from tutela.operations.alerts import list_alerts, raise_alerts
from tutela.orders.execution import confirm_executed
from tutela.orders.receiving import OrderRules, receive_order
from tutela.settings import Settings
from tutela.ui.access import LOGIN_CSRF_COOKIE, SESSION_COOKIE

pytestmark = pytest.mark.usefixtures("cheap_argon2")
PASSWORD = "placeholder-passphrase-for-tests"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


@dataclass
class Queue:
    base: str
    clock: FixedClock
    database: Database
    settings: Settings
    order_id: int
    item_ids: list[int]


@pytest.fixture
def queue(settings: Settings, tmp_path: Path) -> Iterator[Queue]:
    """A provider node holding one removal order for three uploads, received at T0, served on a
    free port; the clock stands a minute after receipt."""
    settings = dataclasses.replace(settings, console_insecure_cookies=True, provider_name=PROVIDER)
    database = open_database(settings)
    create_user(database, "cora", PASSWORD, ["compliance_officer"], actor="test")
    create_user(database, "rev", PASSWORD, ["reviewer"], actor="test")
    generate_key_file(default_key_file(settings))
    key = trusted_authority(database, tmp_path)
    items = uploads(database, 3)
    message = signed_order(key, removal_order([i.item_ref for i in items], T0), T0)
    receipt, _ = receive_order(
        database,
        key.key_id,
        message.body,
        message.signature,
        T0,
        OrderRules(SigningWindow(), DAY, provider_name=PROVIDER),
    )
    app = create_app(dataclasses.replace(settings), database=database)
    clock = FixedClock(T0 + timedelta(minutes=1))
    app.state.clock = clock
    try:
        with served(app) as base:
            yield Queue(base, clock, database, settings, int(receipt["id"]), [i.id for i in items])
    finally:
        database.close()


@contextmanager
def signed_in(base: str, name: str) -> Iterator[tuple[httpx.Client, str]]:
    """A client signed in through the login form, and its session's CSRF token."""
    with httpx.Client(base_url=base) as client:
        form = client.get("/ui/login")
        token = form.cookies.get(LOGIN_CSRF_COOKIE) or ""
        answer = client.post("/ui/login", data={"csrf": token, "name": name, "password": PASSWORD})
        assert answer.status_code == 303, answer.text
        yield client, issue_csrf_token(client.cookies.get(SESSION_COOKIE) or "")


def mark(html: str) -> str:
    """The escalation mark shown on the page ('' when none)."""
    found = re.search(r'<span class="pill mark[^"]*"( hidden)?>([^<]*)</span>', html)
    assert found is not None
    return "" if found.group(1) else found.group(2)


def test_the_queue_shows_time_left_and_marks_at_50_and_90_percent(queue: Queue) -> None:
    with signed_in(queue.base, "cora") as (client, _):
        page = client.get("/ui/order-queue")
        assert page.status_code == 200
        assert "23 h 59 min 00 s" in page.text and mark(page.text) == ""
        assert 'src="/ui/static/order_countdown.js"' in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        script = client.get("/ui/static/order_countdown.js")
        assert script.status_code == 200 and "setInterval" in script.text

        queue.clock.set(T0 + timedelta(hours=12))
        assert mark(client.get("/ui/order-queue").text) == "50 %"
        queue.clock.set(T0 + timedelta(hours=21, minutes=36))
        page = client.get(f"/ui/order-queue/{queue.order_id}")
        assert mark(page.text) == "90 %" and "2 h 24 min 00 s" in page.text
        queue.clock.set(T0 + DAY + timedelta(minutes=5))
        page = client.get(f"/ui/order-queue/{queue.order_id}")
        assert mark(page.text) == "overdue" and "overdue by 0 h 05 min 00 s" in page.text


def test_escalations_raise_an_alert_that_grows_and_a_metric_by_level(queue: Queue) -> None:
    def escalations(at: datetime) -> dict[str, float]:
        collector = OrderCollector(queue.database, FixedClock(at))
        family = next(f for f in collector.collect() if f.name == "tutela_order_escalations")
        return {s.labels["level"]: s.value for s in family.samples}

    assert escalations(T0 + timedelta(hours=1)) == {"50": 0, "90": 0, "overdue": 0}
    assert escalations(T0 + timedelta(hours=13)) == {"50": 1, "90": 0, "overdue": 0}
    assert escalations(T0 + timedelta(hours=22)) == {"50": 0, "90": 1, "overdue": 0}
    assert escalations(T0 + DAY) == {"50": 0, "90": 0, "overdue": 1}

    raise_alerts(queue.database, queue.settings, T0 + timedelta(hours=1))
    raise_alerts(queue.database, queue.settings, T0 + timedelta(hours=13))
    with queue.database.reader() as session:
        (alert,) = [a for a in list_alerts(session) if a.kind == "order_escalation"]
    assert alert.details["level"] == 50 and "50 %" in alert.summary
    raised = raise_alerts(queue.database, queue.settings, T0 + timedelta(hours=22))
    with queue.database.reader() as session:
        (alert,) = [a for a in list_alerts(session) if a.kind == "order_escalation"]
    assert alert.details["level"] == 90 and alert.open
    assert [a.kind for a in raised.raised] == []  # grew while open: not raised twice

    # Every item settled: the order is off the clock, and the alert resolves itself.
    key_file = default_key_file(queue.settings)
    for item_id in queue.item_ids:
        confirm_executed(
            queue.database, queue.order_id, item_id, "t", load_key_file(key_file), platform=None
        )
    raise_alerts(queue.database, queue.settings, T0 + timedelta(hours=23))
    with queue.database.reader() as session:
        (alert,) = [a for a in list_alerts(session) if a.kind == "order_escalation"]
    assert alert.resolved_at is not None
    assert escalations(T0 + DAY) == {"50": 0, "90": 0, "overdue": 0}


def test_an_impediment_filed_through_the_form_is_in_the_signed_report(queue: Queue) -> None:
    key = make_key(queue.database)
    platform = httpx.Client(base_url=queue.base, headers={"Authorization": f"Bearer {key}"})
    with signed_in(queue.base, "cora") as (client, csrf), platform:
        for item_id in queue.item_ids[:2]:
            done = platform.post(
                f"/v1/orders/{queue.order_id}/items/{item_id}/executed",
                json={"action": "removed"},
            )
            assert done.status_code == 200, done.text
        page = client.get(f"/ui/order-queue/{queue.order_id}")
        assert "No execution report yet" in page.text
        assert page.text.count('class="impediment"') == 1  # only the item still requested
        path = f"/ui/order-queue/{queue.order_id}/items/{queue.item_ids[2]}/impediment"
        form = {"reason": "manifest_error", "explanation": "Placeholder: not ours to remove."}
        refused = client.post(path, data=form)  # no CSRF token
        assert refused.status_code in (401, 403)
        filed = client.post(path, data={**form, "csrf": csrf})
        assert filed.status_code == 303, filed.text
        page = client.get(filed.headers["location"])
        assert "manifest error: Placeholder: not ours to remove." in page.text
        shown = html.unescape(page.text)
        assert '"outcome": "impediment"' in shown and "queued" in shown
    with queue.database.reader() as session:
        (report,) = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "order.execution_report")
        ).all()
    assert '"impediment":"manifest_error"' in report.payload["body"]


def test_only_compliance_officers_see_the_order_queue(queue: Queue) -> None:
    with signed_in(queue.base, "rev") as (client, _):
        assert client.get("/ui/order-queue").status_code == 403
        assert client.get(f"/ui/order-queue/{queue.order_id}").status_code == 403
        assert "Received orders" not in client.get("/ui/home").text
    anonymous = httpx.get(f"{queue.base}/ui/order-queue", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/ui/login"
