"""The yearly figures' key numbers for the current (UTC) year as gauges, read from the database
at scrape time (tutela.transparency): measured error rates with their 95 % Wilson intervals per
bank, signal type and distance band, the share of decisions reversed on complaint, and
complaints by outcome. Labels name banks and signal types only, never a person or an item."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.transparency.periods import Year
from tutela.transparency.provider_figures import provider_figures

RATE_LABELS = ["bank", "signal_type", "distance_band"]


class TransparencyCollector(Collector):
    def __init__(self, database: Database, clock: Clock | None = None) -> None:
        self._database = database
        self._clock = clock or SystemClock()

    def collect(self) -> Iterator[Metric]:
        with self._database.reader() as session:
            figures = provider_figures(session, Year.of(self._clock.now().year))
        rate = GaugeMetricFamily(
            "tutela_error_rate",
            "Share of reviewed matches judged not abuse this year",
            labels=RATE_LABELS,
        )
        low = GaugeMetricFamily(
            "tutela_error_rate_ci95_low",
            "Lower 95 % Wilson bound of the error rate",
            labels=RATE_LABELS,
        )
        high = GaugeMetricFamily(
            "tutela_error_rate_ci95_high",
            "Upper 95 % Wilson bound of the error rate",
            labels=RATE_LABELS,
        )
        reviewed = GaugeMetricFamily(
            "tutela_reviewed_matches", "Matches of cases decided this year", labels=RATE_LABELS
        )
        for row in figures["error_rates"]:
            labels = [row["bank"], row["signal_type"], row["distance_band"]]
            share = row["judged_not_abuse"]
            reviewed.add_metric(labels, float(share["of"]))
            if share["rate"] is not None:
                rate.add_metric(labels, share["rate"])
                low.add_metric(labels, share["ci95_low"])
                high.add_metric(labels, share["ci95_high"])
        yield from (rate, low, high, reviewed)
        reversals = figures["decisions"]["reversed_on_complaint"]
        if reversals["rate"] is not None:
            yield GaugeMetricFamily(
                "tutela_reversal_rate",
                "Share of this year's confirmed decisions reversed on complaint",
                value=reversals["rate"],
            )
        complaints = GaugeMetricFamily(
            "tutela_complaints", "Complaints received this year, by outcome", labels=["outcome"]
        )
        for outcome in ("upheld", "rejected", "open"):
            complaints.add_metric([outcome], float(figures["complaints"][outcome]))
        yield complaints
