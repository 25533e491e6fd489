"""What the centre's routes receive: the one `CentreApi` its app builds (database, the PDQ
linker, the providers' keys, the signing window, the intake threads, the centre's own key read on
first use), as the `CentreDep` dependency, and the signed-request dependencies its routers share
(tutela.api.signed_requests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Annotated

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import Depends, Request

from tutela.api.signed_requests import SignedRequest, signed
from tutela.centre.keys import load_centre_key
from tutela.centre.linking import PdqLinker
from tutela.centre.providers import ProviderKeys
from tutela.db.database import Database
from tutela.messaging.signing import SigningKey, SigningWindow
from tutela.settings import Settings

# Intakes one process runs at once. More would only queue on PostgreSQL's commits and the GIL;
# fewer leaves the database idle while a thread parses or verifies. The pool holds one
# connection per intake thread plus a few for status polls and the feed, so that no intake
# opens and closes a connection of its own.
INTAKE_THREADS = 8
POOL_SIZE = INTAKE_THREADS + 4


@dataclass
class CentreApi:
    """Everything the centre's routes share, built once per app."""

    settings: Settings
    database: Database
    window: SigningWindow
    linker: PdqLinker = field(default_factory=PdqLinker)
    keys: ProviderKeys = field(default_factory=ProviderKeys)
    intake_threads: CapacityLimiter = field(default_factory=lambda: CapacityLimiter(INTAKE_THREADS))
    signing_key: SigningKey | None = None

    def centre_key(self) -> SigningKey:
        """The centre's signing key (feed and URL list pages), read on first use: a node that
        only takes reports runs without one."""
        if self.signing_key is None:
            self.signing_key = load_centre_key(self.settings)
        return self.signing_key


async def get_centre(request: Request) -> CentreApi:
    centre: CentreApi = request.app.state.centre
    return centre


CentreDep = Annotated[CentreApi, Depends(get_centre)]


async def registered_provider(request: Request, key_id: str) -> None:
    """Nothing of a report is read for a key no registered provider holds (UnknownProvider)."""
    centre = await get_centre(request)
    if not centre.keys.cached(key_id):
        known = partial(centre.keys.load, centre.database, key_id)
        await anyio.to_thread.run_sync(known, limiter=centre.intake_threads)


def _report_limit(request: Request) -> int:
    centre: CentreApi = request.app.state.centre
    return centre.settings.centre_max_report_bytes


# The signed requests of the centre's routers, one dependency each.
ReportRequest = Annotated[
    SignedRequest,
    Depends(
        signed("a report", max_bytes=_report_limit, idempotency=True, admit=registered_provider)
    ),
]
StatusPoll = Annotated[SignedRequest, Depends(signed("a status request", timestamp=True))]
FeedRequest = Annotated[SignedRequest, Depends(signed("a feed request", timestamp=True))]
UrlListRequest = Annotated[SignedRequest, Depends(signed("a URL list request", timestamp=True))]
# A follow-up carries a few fields, never content.
ReportUpdateRequest = Annotated[
    SignedRequest, Depends(signed("a report update", max_bytes=64 * 1024))
]
# Hashes only: a thousand of them fit in well under this.
VictimRequest = Annotated[
    SignedRequest,
    Depends(signed("a victim's request", max_bytes=256 * 1024, idempotency=True)),
]
