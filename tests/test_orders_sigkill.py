"""SIGKILL of any node loses nothing, in the three-node setting over real HTTP: the provider is
killed while an order is being received and again while an execution report is being sent, the
authority while it sends an order and its copy, the Centre while the copy comes; each restarts.
In the end every order is stored once at the provider and once (as a copy) at the Centre, every
execution report once at the authority, the platform holds each item's removal request (by
delivery, as it de-duplicates), and the states agree on both sides."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from order_nodes import OrderNodes, order_nodes
from tutela.audit.models import AuditEntry
from tutela.authority.answer_models import IssuedOrderReport
from tutela.authority.models import IssuedOrder
from tutela.centre.order_copy_models import CentreOrderCopy
from tutela.orders.models import ReceivedOrder
from two_nodes import wait_until


def states(nodes: OrderNodes) -> tuple[dict[str, str], dict[str, str]]:
    """Each order's state at the authority and at the provider."""
    with nodes.databases["authority"].reader() as session:
        issued = {row.order_ref: row.state for row in session.scalars(select(IssuedOrder))}
    with nodes.databases["provider"].reader() as session:
        received = {row.order_ref: row.state for row in session.scalars(select(ReceivedOrder))}
    return issued, received


def restart(nodes: OrderNodes, name: str) -> None:
    node = nodes.nodes[name]
    node.kill()
    node.start()


def execute(nodes: OrderNodes, order_id: str, count: int, *, impede_last: bool) -> None:
    wait_until(
        lambda: len({b["order_item"] for b in nodes.platform.distinct(order_id).values()}) == count,
        90,
        f"the removal requests of {order_id} at the platform",
    )
    bodies: dict[str, dict[str, object]] = {}
    for body in nodes.platform.distinct(order_id).values():
        bodies[str(body["order_item"])] = body
    ordered = [bodies[ref] for ref in sorted(bodies)]
    for body in ordered[:-1] if impede_last else ordered:
        assert nodes.confirm(body).status_code == 200
    if impede_last:
        assert nodes.impede(ordered[-1]).status_code == 200


@pytest.mark.slow
def test_killing_any_node_mid_exchange_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    with order_nodes(tmp_path) as nodes:
        items = nodes.upload(5)

        # The provider dies while the first order is being delivered to it.
        first = nodes.issue(items[:3])
        time.sleep(0.3)
        nodes.nodes["provider"].kill()
        time.sleep(1.0)
        nodes.nodes["provider"].start()
        execute(nodes, first, 3, impede_last=True)
        # …and again while its execution report goes out.
        time.sleep(0.1)
        restart(nodes, "provider")

        # The authority dies while it sends the second order and its copy; the Centre, too.
        second = nodes.issue(items[3:])
        time.sleep(0.2)
        nodes.nodes["authority"].kill()
        nodes.nodes["centre"].kill()
        time.sleep(1.0)
        nodes.nodes["centre"].spawn()  # both side by side: each takes seconds to start
        nodes.nodes["authority"].start()
        nodes.nodes["centre"].wait_ready()
        execute(nodes, second, 2, impede_last=False)
        time.sleep(0.1)
        restart(nodes, "authority")  # while the second report may be arriving

        wait_until(
            lambda: states(nodes)[0] == {first: "impediment", second: "executed"},
            90,
            "both reports at the authority",
        )
        received = states(nodes)[1]
        assert received == {first: "impediment", second: "executed"}

        def copies() -> list[str]:
            with nodes.databases["centre"].reader() as session:
                return sorted(session.scalars(select(CentreOrderCopy.order_ref)))

        wait_until(lambda: copies() == sorted([first, second]), 60, "both copies at the centre")

        # Exactly once: one receipt per order at the provider, one report per order at the
        # authority (however often a delivery was retried after a kill).
        def actions(name: str, action: str) -> Counter[str]:
            with nodes.databases[name].reader() as session:
                rows = session.scalars(select(AuditEntry).where(AuditEntry.action == action))
                return Counter(str(row.details["order_id"]) for row in rows)

        assert actions("provider", "order_received") == {first: 1, second: 1}
        assert actions("provider", "order_report_queued") == {first: 1, second: 1}
        assert actions("authority", "order_report_received") == {first: 1, second: 1}
        with nodes.databases["authority"].reader() as session:
            reports = Counter(
                session.scalars(
                    select(IssuedOrder.order_ref).join(
                        IssuedOrderReport, IssuedOrderReport.order_id == IssuedOrder.id
                    )
                )
            )
        assert reports == {first: 1, second: 1}
        # The platform was asked for each item (each delivery once, by its Idempotency-Key).
        for order_id, count in ((first, 3), (second, 2)):
            asked = {b["order_item"] for b in nodes.platform.distinct(order_id).values()}
            assert len(asked) == count
