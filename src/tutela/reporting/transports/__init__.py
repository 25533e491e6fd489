"""Report transports as plug-ins: built-ins (centre, ncmec, file) register like third parties do."""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import entry_points

from tutela.errors import ConfigurationError
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
    found: dict[str, type[ReportTransport]] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        cls = entry.load()
        if not (isinstance(cls, type) and issubclass(cls, ReportTransport)):
            raise ConfigurationError(f"entry point {entry.name!r} is not a ReportTransport")
        if cls.name != entry.name:
            raise ConfigurationError(
                f"transport {cls.__name__} is named {cls.name!r} but registered as {entry.name!r}"
            )
        if cls.name in found and found[cls.name] is not cls:
            raise ConfigurationError(f"two report transports are named {cls.name!r}")
        found[cls.name] = cls
    return found


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
