"""Execution reports for blocking and delisting orders (Art 16-18): once an order is in force,
the provider checks that each entry is in its exports (a blocking order's host in the RPZ zone,
an IP address's URL in the URL list; a delisting order's URL in the URL list) and queues a
signed execution report for the authority, once; the authority verifies and records it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from blocking_fixtures import LISTED, Nodes, issue, nodes, receive
from password_hashing import cheap_argon2  # noqa: F401  (a fixture)
from tutela.authority.reports import receive_execution_report, show_order
from tutela.clock import FixedClock, utc_now
from tutela.db.database import Database
from tutela.messaging.messages import open_message
from tutela.messaging.outbox_models import OutboxMessage
from tutela.messaging.signing import SigningWindow
from tutela.orders.access_reports import report_access_orders
from tutela.orders.states import OrderKind
from tutela.settings import Settings

pytestmark = pytest.mark.usefixtures("cheap_argon2")


@pytest.fixture
def world(database: Database, settings: Settings, tmp_path: Path) -> Nodes:
    return nodes(database, settings, tmp_path)


def reports(database: Database) -> list[OutboxMessage]:
    with database.reader() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind == "order.execution_report")
                .order_by(OutboxMessage.id)
            )
        )


def test_a_blocking_order_in_force_is_reported_signed_entry_by_entry_once(world: Nodes) -> None:
    order_id = issue(world, LISTED[:4], utc_now() + timedelta(days=365))
    receive(world, order_id)
    reported = report_access_orders(world.database, world.provider)
    assert len(reported) == 1
    assert report_access_orders(world.database, world.provider) == []  # once
    (queued,) = reports(world.database)
    assert queued.idempotency_key == f"report:{order_id}"
    assert queued.payload["url"] == "http://authority.example/v1/order-reports"
    message = open_message(
        world.provider.private_key.public_key(),
        world.provider.key_id,
        queued.payload["body"].encode(),
        queued.payload["signature"],
    )
    items = {item["item_id"]: item for item in message.payload["items"]}
    assert set(items) == set(LISTED[:4])
    assert {item["outcome"] for item in items.values()} == {"in_force"}
    assert items[LISTED[0]]["explanation"] == "in the exports: rpz, urls"
    # DNS cannot block an IP address: that URL is confirmed in the URL list only.
    assert items["http://192.0.2.7/p"]["explanation"] == "in the exports: urls"

    answer, created = receive_execution_report(
        world.database,
        queued.payload["key_id"],
        queued.payload["body"].encode(),
        queued.payload["signature"],
        utc_now(),
        SigningWindow(),
    )
    assert created and answer["state"] == "executed"
    view = show_order(world.database, order_id)
    assert view.report_signature == queued.payload["signature"]
    assert [item["outcome"] for item in view.items] == ["in_force"] * 4


def test_a_delisting_order_is_reported_in_the_url_list(world: Nodes) -> None:
    order_id = issue(world, [LISTED[4]], utc_now() + timedelta(days=30), OrderKind.DELISTING)
    receive(world, order_id)
    report_access_orders(world.database, world.provider)
    (queued,) = reports(world.database)
    body = queued.payload["body"]
    assert '"outcome":"in_force"' in body and "in the exports: urls" in body


def test_the_key_is_not_read_when_nothing_awaits_a_report(world: Nodes) -> None:
    def no_key() -> object:
        raise AssertionError("the key was read")

    assert report_access_orders(world.database, no_key) == []  # type: ignore[arg-type]


def test_an_ended_order_is_not_reported(world: Nodes) -> None:
    ends = utc_now() + timedelta(days=1)
    receive(world, issue(world, [LISTED[0]], ends))
    assert report_access_orders(world.database, world.provider, FixedClock(ends)) == []
    assert reports(world.database) == []
