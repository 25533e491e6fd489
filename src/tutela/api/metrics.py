"""Prometheus metrics of one app, in its own registry: requests, items by verdict, queue depth,
pipeline latency. Figures that workers produce are read from the database at scrape time, so they
are right whichever process decided the items."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from tutela.api.alert_metrics import AlertCollector
from tutela.api.order_metrics import OrderCollector
from tutela.api.scan_metrics import ScanCollector
from tutela.api.transparency_metrics import TransparencyCollector
from tutela.db.database import Database
from tutela.detection.models import Item, Job

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Latency quantiles are taken over this many most recent decisions.
LATENCY_SAMPLE = 1000
QUANTILES = (0.5, 0.9, 0.99)


class NodeMetrics:
    def __init__(self, database: Database) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "tutela_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.registry.register(_PipelineCollector(database))
        self.registry.register(AlertCollector(database))  # tutela.api.alert_metrics
        self.registry.register(OrderCollector(database))  # tutela.api.order_metrics
        self.registry.register(ScanCollector(database))  # tutela.api.scan_metrics
        self.registry.register(TransparencyCollector(database))  # tutela.api.transparency_metrics

    def count_request(self, method: str, route: str, status: int) -> None:
        self._requests.labels(method, route, str(status)).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _PipelineCollector(Collector):
    def __init__(self, database: Database) -> None:
        self._database = database

    def collect(self) -> Iterator[Metric]:
        with self._database.reader() as session:
            by_verdict = session.execute(
                select(Item.verdict, func.count())
                .where(Item.verdict.is_not(None))
                .group_by(Item.verdict)
            ).all()
            depth = session.scalar(select(func.count()).select_from(Job)) or 0
            recent = session.execute(
                select(Item.created_at, Item.decided_at)
                .where(Item.decided_at.is_not(None))
                .order_by(Item.id.desc())
                .limit(LATENCY_SAMPLE)
            ).all()
        items = GaugeMetricFamily("tutela_items", "Decided items by verdict", labels=["verdict"])
        for verdict, count in by_verdict:
            items.add_metric([str(verdict)], float(count))
        yield items
        yield GaugeMetricFamily("tutela_queue_depth", "Jobs waiting or in work", value=depth)
        latency = GaugeMetricFamily(
            "tutela_pipeline_latency_seconds",
            f"Upload-to-verdict latency over the last {LATENCY_SAMPLE} decisions",
            labels=["quantile"],
        )
        seconds = sorted((d - c).total_seconds() for c, d in recent if d is not None)
        for q in QUANTILES:
            if seconds:
                latency.add_metric([str(q)], seconds[min(len(seconds) - 1, int(q * len(seconds)))])
        yield latency
