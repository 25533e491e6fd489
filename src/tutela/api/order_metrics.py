"""`tutela_orders{state}`: the removal orders a provider received, by state (`overdue` among
them), read from the database at scrape time, whichever process marked them (tutela.orders)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tutela.db.database import Database
from tutela.orders.deadlines import order_counts
from tutela.orders.states import ReceivedState


class OrderCollector(Collector):
    def __init__(self, database: Database) -> None:
        self._database = database

    def collect(self) -> Iterator[Metric]:
        with self._database.reader() as session:
            counts = order_counts(session)
        family = GaugeMetricFamily(
            "tutela_orders", "Removal orders received, by state", labels=["state"]
        )
        for state in ReceivedState:
            family.add_metric([state.value], float(counts.get(state, 0)))
        yield family
