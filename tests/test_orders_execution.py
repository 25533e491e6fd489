"""Executing a received removal order: per-item answers from the item's own platform only, the
signed execution report queued once every item is settled, impediments off the clock, and the
timed step that makes an order overdue past its deadline (Art 14(1)) with an audit entry and a
metric — time moved by the one injectable clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from order_fixtures import PROVIDER, removal_order, signed_order, trusted_authority, uploads
from tutela.api.metrics import NodeMetrics
from tutela.audit.models import AuditEntry
from tutela.clock import FixedClock
from tutela.db.database import Database
from tutela.errors import Conflict, InvalidInput, NotFound
from tutela.messaging.canonical import parse_json
from tutela.messaging.outbox_models import OutboxMessage
from tutela.messaging.signing import SigningKey, SigningWindow, generate_key_file
from tutela.orders.deadlines import mark_overdue
from tutela.orders.execution import confirm_executed, file_impediment
from tutela.orders.receiving import OrderRules, receive_order

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RULES = OrderRules(SigningWindow(), timedelta(hours=24), provider_name=PROVIDER)


def received(database: Database, tmp_path: Path, count: int) -> tuple[int, list[int]]:
    """An order for `count` uploads, received at T0; its id and the items' ids."""
    key = trusted_authority(database, tmp_path)
    items = uploads(database, count)
    order = removal_order([i.item_ref for i in items], T0)
    answer, _ = receive_order(
        database, key.key_id, *_signed(key, order), T0 + timedelta(minutes=1), RULES
    )
    return int(answer["id"]), [i.id for i in items]


def _signed(key: SigningKey, order: object) -> tuple[bytes, str]:
    message = signed_order(key, order, T0)  # type: ignore[arg-type]
    return message.body, message.signature


@pytest.fixture
def provider_key(tmp_path: Path) -> SigningKey:
    return generate_key_file(tmp_path / "provider" / "provider-ed25519.pem")


def reports(database: Database) -> list[OutboxMessage]:
    with database.reader() as session:
        return list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "order.execution_report")
            )
        )


def test_the_report_is_queued_signed_once_every_item_is_settled(
    database: Database, tmp_path: Path, provider_key: SigningKey
) -> None:
    order_id, (first, second) = received(database, tmp_path, 2)
    clock = FixedClock(T0 + timedelta(hours=2))
    confirm_executed(
        database, order_id, first, "apikey:p", provider_key, platform="default", clock=clock
    )
    assert reports(database) == []
    answer = file_impediment(
        database,
        order_id,
        second,
        "apikey:p",
        provider_key,
        platform="default",
        reason="manifest_error",
        explanation="Placeholder: the URL names another item.",
        clock=clock,
    )
    assert answer.order_state == "impediment"
    [report] = reports(database)
    assert report.payload["url"] == "http://authority.example/v1/order-reports"
    document = parse_json(report.payload["body"].encode())
    assert document["key_id"] == provider_key.key_id
    assert [i["outcome"] for i in document["payload"]["items"]] == ["removed", "impediment"]


def test_confirming_an_item_twice_changes_nothing(
    database: Database, tmp_path: Path, provider_key: SigningKey
) -> None:
    order_id, (item,) = received(database, tmp_path, 1)
    first = confirm_executed(database, order_id, item, "apikey:p", provider_key, platform="default")
    again = confirm_executed(database, order_id, item, "apikey:p", provider_key, platform="default")
    assert again == first
    assert len(reports(database)) == 1


def test_an_item_already_removed_cannot_be_answered_with_an_impediment(
    database: Database, tmp_path: Path, provider_key: SigningKey
) -> None:
    order_id, (item, _) = received(database, tmp_path, 2)
    confirm_executed(database, order_id, item, "apikey:p", provider_key, platform="default")
    with pytest.raises(Conflict):
        file_impediment(
            database,
            order_id,
            item,
            "apikey:p",
            provider_key,
            platform="default",
            reason="force_majeure",
            explanation="Placeholder.",
        )


def test_another_platforms_order_item_is_not_found(
    database: Database, tmp_path: Path, provider_key: SigningKey
) -> None:
    order_id, (item,) = received(database, tmp_path, 1)
    with pytest.raises(NotFound):
        confirm_executed(database, order_id, item, "apikey:q", provider_key, platform="another")


def test_an_impediment_names_a_reason_of_annex_v(
    database: Database, tmp_path: Path, provider_key: SigningKey
) -> None:
    order_id, (item,) = received(database, tmp_path, 1)
    with pytest.raises(InvalidInput):
        file_impediment(
            database,
            order_id,
            item,
            "apikey:p",
            provider_key,
            platform="default",
            reason="too_busy",
            explanation="Placeholder.",
        )


def test_an_order_past_its_deadline_becomes_overdue_with_an_audit_entry_and_a_metric(
    database: Database, tmp_path: Path
) -> None:
    order_id, _ = received(database, tmp_path, 1)
    assert mark_overdue(database, FixedClock(T0 + timedelta(hours=23))) == []
    assert mark_overdue(database, FixedClock(T0 + timedelta(hours=24, minutes=2))) == [order_id]
    assert mark_overdue(database, FixedClock(T0 + timedelta(hours=25))) == []
    with database.reader() as session:
        actions = session.scalars(select(AuditEntry.action)).all()
    assert actions.count("order_overdue") == 1
    assert 'tutela_orders{state="overdue"} 1.0' in NodeMetrics(database).render().decode()


def test_an_impediment_takes_its_item_off_the_clock(
    database: Database, tmp_path: Path, provider_key: SigningKey
) -> None:
    order_id, (item,) = received(database, tmp_path, 1)
    file_impediment(
        database,
        order_id,
        item,
        "apikey:p",
        provider_key,
        platform="default",
        reason="insufficient_information",
        explanation="Placeholder: no such URL.",
        clock=FixedClock(T0 + timedelta(hours=1)),
    )
    assert mark_overdue(database, FixedClock(T0 + timedelta(hours=48))) == []
