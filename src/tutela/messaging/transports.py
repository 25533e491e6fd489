"""Transports of the one outbox, as plug-ins: what every transport implements, what it is given
and gives back, and how they are found. Built-ins (centre, ncmec, file, dsa-tdb, orders) register
through the `tutela.report_transports` entry points as third parties do; a node's own channels
(the centre's deliveries, the operator's alert webhook) are built by its composition root."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, ClassVar

import httpx

from tutela.db.database import Database
from tutela.errors import ConfigurationError
from tutela.plugins import load_plugins
from tutela.settings import Settings

ENTRY_POINT_GROUP = "tutela.report_transports"

# Looks up the content of an item for a transport that must upload it (NCMEC): its bytes, or a
# readable file that streams them (a video); None when the provider no longer holds it. Bytes
# stay in memory only for the upload (DESIGN rule 2).
ContentSource = Callable[[str], bytes | BinaryIO | None]


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One claimed message, as its transport sees it; `attempt` counts this try (1 first)."""

    id: int
    destination: str
    kind: str
    payload: dict[str, Any]
    idempotency_key: str
    attempt: int


@dataclass(frozen=True, slots=True)
class SendResult:
    """`delivered`: handed over; `acknowledged`: the receiver confirmed it stored the message.
    `status_code`: the receiver's HTTP answer, where there was one."""

    status: str = "delivered"
    remote_ref: str | None = None
    detail: dict[str, Any] | None = None
    status_code: int | None = None


@dataclass(frozen=True)
class TransportContext:
    """What the composition root hands every transport factory."""

    settings: Settings
    database: Database
    client: httpx.Client
    content_source: ContentSource | None = None
    options: dict[str, Any] = field(default_factory=dict)


class Transport(ABC):
    """Delivers one message; raises TransientDeliveryError to be retried later and
    PermanentDeliveryError when the receiver refused it for good (tutela.messaging.retry says
    which answer is which). Registered through the `tutela.report_transports` entry points
    under its explicit, stable `name`."""

    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def create(cls, context: TransportContext) -> Transport:
        """Build the transport from the node's settings and resources."""

    @abstractmethod
    def send(self, message: OutgoingMessage) -> SendResult: ...


def transport_classes() -> dict[str, type[Transport]]:
    """Every registered transport by its `name`; two plug-ins claiming one name stop start-up."""
    return load_plugins(ENTRY_POINT_GROUP, Transport, "report transport")


def create_transports(names: Iterable[str], context: TransportContext) -> dict[str, Transport]:
    """The named transports, built for this node; the outbox routes a message by its
    destination, which is a transport's name."""
    available = transport_classes()
    transports: dict[str, Transport] = {}
    for name in names:
        if name not in available:
            known = ", ".join(sorted(available)) or "none"
            raise ConfigurationError(f"unknown report transport {name!r} (known: {known})")
        transports[name] = available[name].create(context)
    return transports
