"""The authority answers a provider's impediment (Art 14(5)-(6)), both sides in one database and
the documents handed across as the outbox holds them: a clarification restarts the provider's
clock from its receipt (the deadline moves, the platform is asked again), and the next round's
signed execution report settles the order at the authority; a withdrawal closes it on both
sides. Repeats are answered as the first; an answer out of turn, or not signed by a registered
authority, is refused with nothing written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from order_fixtures import AUTHORITY, PROVIDER, uploads
from tutela.auth.users import create_user
from tutela.authority.answer_models import ImpedimentAnswer, IssuedOrderReport
from tutela.authority.impediment_answers import answer_impediment
from tutela.authority.issuing import Issuer, issue_removal_order
from tutela.authority.models import IssuedOrder
from tutela.authority.providers import add_provider
from tutela.authority.reports import receive_execution_report
from tutela.authority.supervision import supervised_order
from tutela.clock import FixedClock
from tutela.db.database import Database
from tutela.detection.models import WebhookDelivery
from tutela.detection.webhooks import register_webhook
from tutela.errors import (
    Conflict,
    Forbidden,
    IncompleteOrder,
    InvalidSignature,
    UnknownAuthority,
)
from tutela.messaging.outbox_models import OutboxMessage
from tutela.messaging.signing import SigningWindow, generate_key_file
from tutela.orders.answer_models import ReceivedOrderAnswer
from tutela.orders.authority_keys import add_authority_key
from tutela.orders.execution import confirm_executed, file_impediment
from tutela.orders.impediment_answers import AnswerRules, receive_impediment_answer
from tutela.orders.models import ReceivedOrder, ReceivedOrderItem
from tutela.orders.receiving import OrderRules, receive_order

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(hours=24)
WINDOW = SigningWindow()
ISSUER = Issuer(AUTHORITY, "orders@authority.example", "NL", "http://authority.example", None)
PASSWORD = "placeholder-passphrase-for-tests"


class Sides:
    """An authority and a provider sharing one database (their tables differ), and the clock."""

    def __init__(self, database: Database, tmp_path: Path) -> None:
        self.database = database
        self.clock = FixedClock(T0)
        self.authority = generate_key_file(tmp_path / "authority.pem")
        self.provider = generate_key_file(tmp_path / "provider.pem")
        create_user(database, "admin-1", PASSWORD, ["administrator"], actor="test")
        create_user(database, "officer-1", PASSWORD, ["case_officer"], actor="test")
        create_user(database, "supervisor-1", PASSWORD, ["supervisor"], actor="test")
        add_provider(
            database,
            "admin-1",
            PROVIDER,
            self.provider.public_key_pem(),
            "http://provider.example/v1/orders",
            "NL",
        )
        add_authority_key(database, "test", AUTHORITY, self.authority.public_key_pem())
        register_webhook(database, "https://platform.example/hooks", "s" * 24)
        self.items = uploads(database, 3)

    def queued(self, key: str) -> dict[str, Any]:
        with self.database.reader() as session:
            message = session.scalars(
                select(OutboxMessage).where(OutboxMessage.idempotency_key == key)
            ).one()
            return dict(message.payload)

    def issue(self) -> str:
        view = issue_removal_order(
            self.database,
            "officer-1",
            PROVIDER,
            [("item_id", item.item_ref) for item in self.items],
            "Placeholder reasons.",
            ISSUER,
            self.authority,
            clock=self.clock,
        )
        payload = self.queued(view.order_id)
        rules = OrderRules(WINDOW, DAY, provider_name=PROVIDER)
        receive_order(
            self.database,
            payload["key_id"],
            payload["body"].encode(),
            payload["signature"],
            self.clock.now(),
            rules,
        )
        return view.order_id

    def received(self, ref: str) -> ReceivedOrder:
        with self.database.reader() as session:
            order = session.scalars(select(ReceivedOrder).where(ReceivedOrder.order_ref == ref))
            return order.one()

    def settle(self, ref: str, *, impede: bool) -> None:
        """The platform removes the first two items and impedes the third (or removes it)."""
        order = self.received(ref)
        key = self.provider
        for item in self.items[:2]:
            confirm_executed(
                self.database, order.id, item.id, "test", key, platform=None, clock=self.clock
            )
        last = self.items[2].id
        if impede:
            file_impediment(
                self.database,
                order.id,
                last,
                "test",
                key,
                platform=None,
                reason="insufficient_information",
                explanation="Placeholder: the order does not say which of two copies.",
                clock=self.clock,
            )
        else:
            confirm_executed(
                self.database, order.id, last, "test", key, platform=None, clock=self.clock
            )

    def deliver_report(self, key: str) -> tuple[dict[str, Any], bool]:
        payload = self.queued(key)
        return receive_execution_report(
            self.database,
            payload["key_id"],
            payload["body"].encode(),
            payload["signature"],
            self.clock.now(),
            WINDOW,
        )

    def deliver_answer(self, key: str) -> tuple[dict[str, Any], bool]:
        payload = self.queued(key)
        assert payload["url"] == "http://provider.example/v1/orders/answers"
        return receive_impediment_answer(
            self.database,
            payload["key_id"],
            payload["body"].encode(),
            payload["signature"],
            self.clock.now(),
            AnswerRules(WINDOW, DAY),
        )

    def issued(self, ref: str) -> IssuedOrder:
        with self.database.reader() as session:
            return session.scalars(select(IssuedOrder).where(IssuedOrder.order_ref == ref)).one()


@pytest.fixture
def sides(database: Database, tmp_path: Path) -> Sides:
    return Sides(database, tmp_path)


def impeded(sides: Sides) -> str:
    ref = sides.issue()
    sides.clock.advance(timedelta(hours=3))
    sides.settle(ref, impede=True)
    answer, created = sides.deliver_report(f"report:{ref}")
    assert created and answer["state"] == "impediment"
    return ref


def requests_for(sides: Sides, item_id: int) -> list[str]:
    with sides.database.reader() as session:
        return list(
            session.scalars(select(WebhookDelivery.body).where(WebhookDelivery.item_id == item_id))
        )


def test_a_clarification_restarts_the_clock_and_the_next_report_settles_the_order(
    sides: Sides,
) -> None:
    ref = impeded(sides)
    sides.clock.advance(timedelta(hours=30))  # the answer may come after the first deadline
    view = answer_impediment(
        sides.database,
        "officer-1",
        ref,
        "clarification",
        AUTHORITY,
        sides.authority,
        clarification="Placeholder: both copies are meant.",
        clock=sides.clock,
    )
    assert (view.number, view.state, view.items) == (1, "clarified", ("3",))
    sides.clock.advance(timedelta(minutes=5))
    receipt, created = sides.deliver_answer(f"answer:{ref}:1")
    assert created
    answered_at = sides.clock.now()
    order = sides.received(ref)
    assert order.state == "received" and order.answers == 1
    assert order.clock_started_at == answered_at
    assert order.deadline_at == answered_at + DAY
    assert receipt["deadline_at"] == (answered_at + DAY).isoformat()
    # The platform is asked again, with the clarification.
    again = requests_for(sides, sides.items[2].id)
    assert len(again) == 2 and "both copies are meant" in again[1]
    # A repeated delivery changes nothing and is answered as the first.
    sides.clock.advance(timedelta(minutes=1))
    assert sides.deliver_answer(f"answer:{ref}:1") == (receipt, False)
    assert len(requests_for(sides, sides.items[2].id)) == 2

    sides.clock.advance(timedelta(hours=2))
    confirm_executed(
        sides.database,
        order.id,
        sides.items[2].id,
        "test",
        sides.provider,
        platform=None,
        clock=sides.clock,
    )
    answer, created = sides.deliver_report(f"report:{ref}:1")
    assert created and answer["state"] == "executed"
    issued = sides.issued(ref)
    assert [item["outcome"] for item in issued.outcomes or []] == ["removed"] * 3
    with sides.database.reader() as session:
        rounds = session.scalars(
            select(IssuedOrderReport.round).where(IssuedOrderReport.order_id == issued.id)
        ).all()
    assert sorted(rounds) == [0, 1]
    # A late repeat of the first round's report is answered, and changes nothing.
    assert sides.deliver_report(f"report:{ref}")[1] is False
    assert sides.issued(ref).state == "executed"
    shown, _ = supervised_order(sides.database, issued.id, sides.clock.now(), DAY)
    assert shown.status == "executed" and shown.took == timedelta(hours=2, minutes=1)


def test_a_withdrawal_closes_the_order_on_both_sides(sides: Sides) -> None:
    ref = impeded(sides)
    view = answer_impediment(
        sides.database, "officer-1", ref, "withdrawn", AUTHORITY, sides.authority, clock=sides.clock
    )
    assert view.state == "withdrawn"
    sides.deliver_answer(f"answer:{ref}:1")
    order = sides.received(ref)
    assert order.state == "withdrawn" and order.completed_at == sides.clock.now()
    with pytest.raises(Conflict):  # a withdrawn order awaits nothing more
        answer_impediment(
            sides.database,
            "officer-1",
            ref,
            "clarification",
            AUTHORITY,
            sides.authority,
            clarification="Placeholder.",
            clock=sides.clock,
        )


def test_only_an_impeded_order_is_answered_and_only_by_a_case_officer(sides: Sides) -> None:
    ref = sides.issue()
    with pytest.raises(Conflict):
        answer_impediment(sides.database, "officer-1", ref, "withdrawn", AUTHORITY, sides.authority)
    sides.settle(ref, impede=True)
    sides.deliver_report(f"report:{ref}")
    with pytest.raises(Forbidden):
        answer_impediment(
            sides.database, "supervisor-1", ref, "withdrawn", AUTHORITY, sides.authority
        )
    with pytest.raises(IncompleteOrder):  # a clarification says something
        answer_impediment(
            sides.database,
            "officer-1",
            ref,
            "clarification",
            AUTHORITY,
            sides.authority,
            clarification="  ",
        )
    with sides.database.reader() as session:
        assert session.scalar(select(func.count()).select_from(ImpedimentAnswer)) == 0


def test_an_answer_that_is_forged_unknown_or_out_of_turn_is_refused_with_nothing_written(
    sides: Sides, tmp_path: Path
) -> None:
    ref = impeded(sides)
    answer_impediment(
        sides.database,
        "officer-1",
        ref,
        "clarification",
        AUTHORITY,
        sides.authority,
        clarification="Placeholder clarification.",
        clock=sides.clock,
    )
    payload = sides.queued(f"answer:{ref}:1")
    rules = AnswerRules(WINDOW, DAY)
    body = payload["body"].encode()
    with pytest.raises(InvalidSignature):
        receive_impediment_answer(
            sides.database, payload["key_id"], body + b" ", payload["signature"], T0, rules
        )
    stranger = generate_key_file(tmp_path / "stranger.pem")
    with pytest.raises(UnknownAuthority):
        receive_impediment_answer(
            sides.database, stranger.key_id, body, payload["signature"], T0, rules
        )
    sides.deliver_answer(f"answer:{ref}:1")
    # The order runs again: a second answer now is out of turn.
    with sides.database.unit_of_work() as session:
        row = session.scalars(select(IssuedOrder).where(IssuedOrder.order_ref == ref)).one()
        row.state = "impediment"  # as if the authority answered twice
    answer_impediment(
        sides.database, "officer-1", ref, "withdrawn", AUTHORITY, sides.authority, clock=sides.clock
    )
    with pytest.raises(Conflict):
        sides.deliver_answer(f"answer:{ref}:2")
    with sides.database.reader() as session:
        assert session.scalar(select(func.count()).select_from(ReceivedOrderAnswer)) == 1
        states = session.scalars(select(ReceivedOrderItem.state)).all()
    assert sorted(states) == ["removed", "removed", "requested"]
