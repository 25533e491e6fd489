"""Backlog scanning on /metrics, read from the database at scrape time, so a scan on the local cores
or on a Ray cluster (`tutela scan`, whichever machine drives it) shows on every node process:
`tutela_scan_items{state}` (undecided, decided), `tutela_scan_errors{code}`,
`tutela_scan_items_per_second` (decided over the last minute) and `tutela_scan_eta_seconds` (for
the items made and not yet decided, at that rate; absent while nothing is being decided)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.detection.scan_batches import scan_figures

RATE_WINDOW = timedelta(minutes=1)


class ScanCollector(Collector):
    def __init__(self, database: Database, clock: Clock | None = None) -> None:
        self._database = database
        self._clock = clock or SystemClock()

    def collect(self) -> Iterator[Metric]:
        with self._database.reader() as session:
            figures = scan_figures(session, self._clock.now(), RATE_WINDOW)
        items = GaugeMetricFamily(
            "tutela_scan_items", "Backlog scan items, undecided or decided", labels=["state"]
        )
        items.add_metric(["undecided"], float(figures.undecided))
        items.add_metric(["decided"], float(figures.decided))
        yield items
        errors = GaugeMetricFamily(
            "tutela_scan_errors",
            "Backlog scan items with an error verdict, by code",
            labels=["code"],
        )
        for code, count in sorted(figures.errors.items()):
            errors.add_metric([code], float(count))
        yield errors
        yield GaugeMetricFamily(
            "tutela_scan_items_per_second",
            f"Backlog scan items decided per second over the last {RATE_WINDOW.seconds} s",
            value=figures.rate,
        )
        eta = GaugeMetricFamily(
            "tutela_scan_eta_seconds",
            "Seconds to decide the scan items made and not yet decided, at the recent rate",
        )
        if (seconds := figures.eta_s) is not None:
            eta.add_metric([], seconds)
        yield eta
