"""Answers to impediments over real HTTP, authority, provider and centre as three processes: the
platform removes two items of a removal order and files an impediment for the third; the
authority's case officer answers with a clarification (`tutela authority order answer`), signed
and sent through the outbox; the provider records it, moves the deadline to a day after the
answer's receipt and asks the platform again with the clarification; the platform removes the
item and the second round's signed execution report settles the order at the authority. A second
order's impediment is answered by withdrawing it, which closes it on both sides. Each impediment
reaches the authority as it is filed, and each answer is copied to the Centre."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from order_nodes import OrderNodes, order_nodes
from tutela.authority.answer_models import IssuedOrderReport
from tutela.authority.models import IssuedOrder
from tutela.authority.reports import show_order
from tutela.authority.supervision import supervised_order
from tutela.centre.order_copies import order_answers
from tutela.clock import utc_now
from tutela.orders.answer_models import ReceivedOrderAnswer
from tutela.orders.models import ReceivedOrder
from two_nodes import wait_until

DAY = timedelta(hours=24)
DAY_S = DAY.total_seconds()


def received(nodes: OrderNodes, order_id: str) -> ReceivedOrder | None:
    with nodes.databases["provider"].reader() as session:
        return session.scalar(select(ReceivedOrder).where(ReceivedOrder.order_ref == order_id))


def issued(nodes: OrderNodes, order_id: str) -> IssuedOrder:
    with nodes.databases["authority"].reader() as session:
        return session.scalars(select(IssuedOrder).where(IssuedOrder.order_ref == order_id)).one()


def settle_with_impediment(nodes: OrderNodes, order_id: str, count: int) -> None:
    """The platform removes all but the last of the order's items and impedes the last; the
    impeded report reaches the authority."""
    wait_until(
        lambda: len(nodes.platform.distinct(order_id)) == count, 60, "requests at the platform"
    )
    bodies = sorted(nodes.platform.distinct(order_id).values(), key=lambda b: str(b["item_id"]))
    for body in bodies[:-1]:
        assert nodes.confirm(body).status_code == 200
    assert nodes.impede(bodies[-1]).status_code == 200
    wait_until(
        lambda: issued(nodes, order_id).state == "impediment", 60, "the report at the authority"
    )


@pytest.mark.slow
def test_a_clarification_restarts_the_clock_and_a_withdrawal_closes_the_order(
    tmp_path: Path,
) -> None:
    with order_nodes(tmp_path) as nodes:
        items = nodes.upload(4)
        first = nodes.issue(items[:3])
        settle_with_impediment(nodes, first, 3)

        answered = nodes.officer(
            "answer", first, "--clarification", "Placeholder: the copy in the public album."
        )
        assert answered["state"] == "clarified" and answered["items"] == ["3"]
        # The impediment reached the authority as it was filed; the answer is copied to the Centre.
        wait_until(
            lambda: (
                [i["item"] for i in show_order(nodes.databases["authority"], first).impediments]
                == ["3"]
            ),
            60,
            "the impediment at the authority",
        )
        wait_until(
            lambda: len(order_answers(nodes.databases["centre"], first)) == 1,
            60,
            "the answer's copy at the centre",
        )
        wait_until(
            lambda: (received(nodes, first) or ReceivedOrder()).answers == 1,
            60,
            "the clarification at the provider",
        )
        order = received(nodes, first)
        assert order is not None and order.state == "received"
        assert order.clock_started_at is not None and order.clock_started_at > order.received_at
        assert (order.deadline_at - order.clock_started_at).total_seconds() == DAY_S
        # The platform is asked again for the impeded item, with the clarification.
        wait_until(lambda: len(nodes.platform.distinct(first)) == 4, 60, "the item asked for again")
        again = [
            body for body in nodes.platform.distinct(first).values() if body.get("clarification")
        ]
        assert [body["item_id"] for body in again] == ["upload-3"]
        assert again[0]["deadline_at"] == order.deadline_at.isoformat()

        # At the authority the order runs again, on the new clock, once the provider took it.
        def status() -> str:
            shown, _ = supervised_order(
                nodes.databases["authority"], issued(nodes, first).id, utc_now(), DAY
            )
            return shown.status

        wait_until(lambda: status() == "received", 30, "the answer acknowledged")

        assert nodes.confirm(again[0]).status_code == 200
        wait_until(
            lambda: issued(nodes, first).state == "executed", 60, "the second round's report"
        )
        view = show_order(nodes.databases["authority"], first)
        assert [item["outcome"] for item in view.items] == ["removed"] * 3
        with nodes.databases["authority"].reader() as session:
            rounds = session.scalars(
                select(IssuedOrderReport.round).where(
                    IssuedOrderReport.order_id == issued(nodes, first).id
                )
            ).all()
        assert sorted(rounds) == [0, 1]

        # The second order: its one item impeded, and the order withdrawn.
        second = nodes.issue(items[3:])
        settle_with_impediment(nodes, second, 1)
        assert nodes.officer("answer", second, "--withdraw")["state"] == "withdrawn"
        wait_until(
            lambda: (received(nodes, second) or ReceivedOrder()).state == "withdrawn",
            60,
            "the withdrawal at the provider",
        )
        with nodes.databases["provider"].reader() as session:
            kinds = session.scalars(
                select(ReceivedOrderAnswer.kind).order_by(ReceivedOrderAnswer.id)
            ).all()
        assert kinds == ["clarification", "withdrawn"]
