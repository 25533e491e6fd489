"""The interface every report transport implements, and what it is given and gives back."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

from tutela.db.database import Database
from tutela.settings import Settings

# Looks up the content of an item for a transport that must upload it (NCMEC); None when the
# provider no longer holds it. Bytes stay in memory only for the upload (DESIGN rule 2).
ContentSource = Callable[[str], bytes | None]


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    id: int
    destination: str
    kind: str
    payload: dict[str, Any]
    idempotency_key: str
    attempt: int


@dataclass(frozen=True, slots=True)
class SendResult:
    """`delivered`: handed over; `acknowledged`: the receiver confirmed it stored the message."""

    status: str = "delivered"
    remote_ref: str | None = None
    detail: dict[str, Any] | None = None


@dataclass(frozen=True)
class TransportContext:
    """What the composition root hands every transport factory."""

    settings: Settings
    database: Database
    client: httpx.Client
    content_source: ContentSource | None = None
    options: dict[str, Any] = field(default_factory=dict)


class ReportTransport(ABC):
    """Delivers one message; raises TransientDeliveryError to be retried later and
    PermanentDeliveryError when the receiver refused it for good. Registered through the
    `tutela.report_transports` entry points under its explicit, stable `name`."""

    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def create(cls, context: TransportContext) -> ReportTransport:
        """Build the transport from the node's settings and resources."""

    @abstractmethod
    def send(self, message: OutgoingMessage) -> SendResult: ...
