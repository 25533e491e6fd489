"""Report transports as plug-ins: built-ins (centre, ncmec, file) register like third parties do."""

from __future__ import annotations

from collections.abc import Iterable

from tutela.errors import ConfigurationError
from tutela.plugins import load_plugins
from tutela.reporting.transports.base import (
    OutgoingMessage,
    ReportTransport,
    SendResult,
    TransportContext,
)

ENTRY_POINT_GROUP = "tutela.report_transports"

__all__ = [
    "ENTRY_POINT_GROUP",
    "OutgoingMessage",
    "ReportTransport",
    "SendResult",
    "TransportContext",
    "create_transports",
    "transport_classes",
]


def transport_classes() -> dict[str, type[ReportTransport]]:
    """Every registered transport by its `name`; two plug-ins claiming one name stop start-up."""
    return load_plugins(ENTRY_POINT_GROUP, ReportTransport, "report transport")


def create_transports(
    names: Iterable[str], context: TransportContext
) -> dict[str, ReportTransport]:
    """The named transports, built for this node; the outbox routes a message by its
    destination, which is a transport's name."""
    available = transport_classes()
    transports: dict[str, ReportTransport] = {}
    for name in names:
        if name not in available:
            known = ", ".join(sorted(available)) or "none"
            raise ConfigurationError(f"unknown report transport {name!r} (known: {known})")
        transports[name] = available[name].create(context)
    return transports
