"""What a node's outbox sender runs for the operator: the alert scan, and the alert webhook as one
more destination. `tutela serve`, `tutela outbox run` and `tutela centre serve` add both."""

from __future__ import annotations

import httpx

from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.messaging.sender import PeriodicTask
from tutela.messaging.transports import Transport
from tutela.operations.alerts import raise_alerts
from tutela.operations.operator_webhook import OperatorWebhook
from tutela.settings import Settings

# Alerts are raised this often: a failure is heard of within about half a minute.
ALERTS_EVERY_S = 30.0


def alert_transports(settings: Settings, client: httpx.Client) -> dict[str, Transport]:
    """The operator's alert webhook, when TUTELA_ALERT_WEBHOOK_URL is set."""
    webhook = OperatorWebhook.from_settings(settings, client)
    return {webhook.name: webhook} if webhook is not None else {}


def alert_task(settings: Settings, database: Database) -> PeriodicTask:
    """Raise and resolve the operator's alerts (tutela.operations.alerts)."""
    return PeriodicTask(
        "alerts", ALERTS_EVERY_S, lambda: raise_alerts(database, settings, utc_now())
    )
