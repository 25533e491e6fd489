"""Fetching banks from hash-sharing exchanges (NCMEC, StopNCII), resuming from checkpoints."""

from tutela.indicators.fetchers.checkpoints import FetchFailed, FetchReport
from tutela.indicators.fetchers.credentials import (
    NcmecCredentials,
    StopNciiCredentials,
    ncmec_credentials,
    stopncii_credentials,
)
from tutela.indicators.fetchers.ncmec import fetch_ncmec, ncmec_client
from tutela.indicators.fetchers.stopncii import fetch_stopncii, stopncii_client

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
