"""The centre's `/metrics`: its yearly figures of Art 83(3) for the current (UTC) year as gauges,
read from its database at scrape time (tutela.transparency.centre_figures) — reports by Member
State, kind and provider, their assessment, forwardings, indicators and victims' requests —
for a key with the `metrics` scope (`tutela apikey create --scope metrics` run against the
centre's database), as on the provider node. Labels name Member States, kinds, signal types and
providers' registered names, never a person."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Depends, FastAPI, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool

from tutela.api.deps import BearerDep, scope_doc
from tutela.api.metrics import CONTENT_TYPE
from tutela.auth.api_keys import ApiKeyView, authenticate
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.transparency.centre_figures import centre_figures
from tutela.transparency.periods import Year

SCOPE = "metrics"


class CentreFiguresCollector(Collector):
    def __init__(self, database: Database, clock: Clock | None = None) -> None:
        self._database = database
        self._clock = clock or SystemClock()

    def collect(self) -> Iterator[Metric]:
        with self._database.reader() as session:
            figures = centre_figures(session, Year.of(self._clock.now().year))
        reports = figures["reports"]
        yield _labelled(
            "tutela_centre_reports_by_member_state",
            "Reports received this year, by Member State",
            "member_state",
            reports["by_member_state"],
        )
        yield _labelled(
            "tutela_centre_reports_by_kind",
            "Reports received this year, by kind (known, new, solicitation)",
            "kind",
            reports["by_kind"],
        )
        yield _labelled(
            "tutela_centre_reports_by_provider",
            "Reports received this year, by provider (registered legal name)",
            "provider",
            reports["by_provider"],
        )
        yield _labelled(
            "tutela_centre_reports",
            "Reports received this year, and how they were assessed",
            "assessment",
            {
                "received": reports["received"],
                "forwarded": reports["forwarded"],
                "unfounded": reports["unfounded"],
                "awaiting_assessment": reports["awaiting_assessment"],
                "duplicates": reports["duplicates"],
                "urgent": reports["urgent"],
                "removed_by_provider": reports["removed_by_provider"],
            },
        )
        yield _labelled(
            "tutela_centre_forwardings",
            "Reports forwarded this year, by kind of recipient",
            "recipient",
            figures["forwardings"],
        )
        indicators = figures["indicators"]
        yield _labelled(
            "tutela_centre_indicators_added",
            "Indicators confirmed this year, by signal type",
            "signal_type",
            indicators["added_by_signal_type"],
        )
        yield GaugeMetricFamily(
            "tutela_centre_indicators_withdrawn",
            "Indicators withdrawn this year",
            value=float(indicators["withdrawn"]),
        )
        yield GaugeMetricFamily(
            "tutela_centre_indicators_in_force",
            "Indicators in force at the end of this year (so far)",
            value=float(indicators["in_force_at_year_end"]),
        )
        yield _labelled(
            "tutela_centre_victim_requests",
            "Victims' requests this year (Art 20-21): received, helped, removal requests sent",
            "outcome",
            figures["victims"],
        )


def _labelled(name: str, text: str, label: str, counts: dict[str, int]) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, text, labels=[label])
    for value, count in counts.items():
        gauge.add_metric([value], float(count))
    return gauge


def install_centre_metrics(app: FastAPI, database: Database) -> None:
    """`GET /metrics` on the centre app, its own registry holding the figures' collector."""
    registry = CollectorRegistry()
    registry.register(CentreFiguresCollector(database))

    async def metrics_key(credentials: BearerDep) -> ApiKeyView:
        key = credentials.credentials if credentials is not None else None
        return await run_in_threadpool(authenticate, database, key, SCOPE)

    @app.get(
        "/metrics",
        response_class=Response,
        tags=["health"],
        dependencies=[Depends(metrics_key)],
        openapi_extra=scope_doc(SCOPE),
    )
    async def metrics() -> Response:
        """Prometheus text exposition of the centre's figures, for a key with the `metrics`
        scope (`Authorization: Bearer`)."""
        body = await run_in_threadpool(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE)
