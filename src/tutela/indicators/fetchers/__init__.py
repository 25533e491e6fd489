"""Fetching banks from hash-sharing exchanges (NCMEC, StopNCII), resuming from checkpoints.

The exchange clients (python-threatexchange, requests: ~0.1 CPU-s) are imported only when one of
their names is first used, so that a node that merely reads checkpoints does not load them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tutela.indicators.fetchers.checkpoints import FetchFailed, FetchReport
from tutela.indicators.fetchers.credentials import (
    NcmecCredentials,
    StopNciiCredentials,
    ncmec_credentials,
    stopncii_credentials,
)

if TYPE_CHECKING:
    from tutela.indicators.fetchers.ncmec import fetch_ncmec, ncmec_client
    from tutela.indicators.fetchers.stopncii import fetch_stopncii, stopncii_client

_EXCHANGE_MODULES = {
    "fetch_ncmec": "ncmec",
    "ncmec_client": "ncmec",
    "fetch_stopncii": "stopncii",
    "stopncii_client": "stopncii",
}

__all__ = [
    "FetchFailed",
    "FetchReport",
    "NcmecCredentials",
    "StopNciiCredentials",
    "fetch_ncmec",
    "fetch_stopncii",
    "ncmec_client",
    "ncmec_credentials",
    "stopncii_client",
    "stopncii_credentials",
]


def __getattr__(name: str) -> Any:
    if name not in _EXCHANGE_MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_EXCHANGE_MODULES[name]}")
    return getattr(module, name)
