"""`tutela_orders{state}`: the removal orders a provider received, by state (`overdue` among
them), read from the database at scrape time, whichever process marked them (tutela.orders); and
`tutela_order_escalations{level}`: the removal orders on the clock now at 50 % and 90 % of their
time and overdue (tutela.orders.escalation)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.orders.deadlines import order_counts
from tutela.orders.escalation import escalation_counts
from tutela.orders.states import ReceivedState


class OrderCollector(Collector):
    def __init__(self, database: Database, clock: Clock | None = None) -> None:
        self._database = database
        self._clock = clock or SystemClock()

    def collect(self) -> Iterator[Metric]:
        with self._database.reader() as session:
            counts = order_counts(session)
            levels = escalation_counts(session, self._clock.now())
        family = GaugeMetricFamily(
            "tutela_orders", "Removal orders received, by state", labels=["state"]
        )
        for state in ReceivedState:
            family.add_metric([state.value], float(counts.get(state, 0)))
        yield family
        escalations = GaugeMetricFamily(
            "tutela_order_escalations",
            "Removal orders on the clock, by how far through their time (50, 90, overdue)",
            labels=["level"],
        )
        for level, count in levels.items():
            escalations.add_metric([level.label.replace(" %", "")], float(count))
        yield escalations
