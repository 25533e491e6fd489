"""Gauges of what the operator must hear about, read from the database at scrape time: open
alerts by kind, messages failed for good by transport, and platform webhook deliveries failed for
good by platform (tutela.operations)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tutela.db.database import Database
from tutela.operations.alerts import open_alert_counts
from tutela.operations.node_status import failed_messages
from tutela.operations.webhook_deliveries import failed_by_platform


class AlertCollector(Collector):
    def __init__(self, database: Database) -> None:
        self._database = database

    def collect(self) -> Iterator[Metric]:
        with self._database.reader() as session:
            alerts = open_alert_counts(session)
            failed = failed_messages(session)
            webhooks = failed_by_platform(session)
        open_alerts = GaugeMetricFamily(
            "tutela_open_alerts",
            "Alerts neither acknowledged nor resolved, by kind",
            labels=["kind"],
        )
        for kind, count in sorted(alerts.items()):
            open_alerts.add_metric([kind], float(count))
        yield open_alerts
        failures = GaugeMetricFamily(
            "tutela_failed_messages",
            "Messages to other nodes and webhook deliveries failed for good, by transport",
            labels=["transport"],
        )
        for transport, count in sorted(failed.items()):
            failures.add_metric([transport], float(count))
        yield failures
        by_platform = GaugeMetricFamily(
            "tutela_failed_webhook_deliveries",
            "Platform webhook deliveries failed for good, by platform (`tutela webhooks requeue`)",
            labels=["platform"],
        )
        for platform, count in sorted(webhooks.items()):
            by_platform.add_metric([platform], float(count))
        yield by_platform
