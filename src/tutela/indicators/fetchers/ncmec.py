"""NCMEC hash sharing → a bank, keeping image MD5 and SHA-1 as well as PDQ, resumable mid-fetch.

HMA keeps only PDQ of images and MD5 of videos; a provider scanning uploads by exact hash needs
the MD5 and SHA-1 of images too, so every file hash and PDQ of every entry is kept here.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import requests
from threatexchange.exchanges.clients.ncmec.hash_api import NCMECEnvironment, NCMECHashAPI

from tutela.audit.log import SYSTEM
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.errors import ConfigurationError, InvalidHash
from tutela.indicators.bank_audit import record_fetched_page
from tutela.indicators.banks import bank_by_name
from tutela.indicators.fetchers.checkpoints import (
    FetchFailed,
    FetchReport,
    load_checkpoint,
    save_checkpoint,
)
from tutela.indicators.fetchers.credentials import NcmecCredentials
from tutela.indicators.ledger import replace_entry
from tutela.signals.registry import get_signal_type

EXCHANGE = "ncmec"
# NCMEC's fingerprint names (lower-cased XML tags) → our signal types.
FINGERPRINTS = {"md5": "md5", "sha1": "sha1", "pdq": "pdq"}
# NCMEC asks that paging URLs not be kept long; HMA trusts one for 12 hours, and so do we.
PAGING_URL_LIFETIME_S = 12 * 60 * 60


def ncmec_client(credentials: NcmecCredentials) -> Any:
    """A threatexchange NCMEC client for these credentials (or a test server's URL)."""
    if credentials.url:
        environment: Any = SimpleNamespace(value=credentials.url.rstrip("/"))
    else:
        try:
            environment = NCMECEnvironment[credentials.environment]
        except KeyError:
            known = ", ".join(e.name for e in NCMECEnvironment)
            raise ConfigurationError(
                f"unknown NCMEC environment {credentials.environment!r}; known: {known}"
            ) from None
    return NCMECHashAPI(credentials.username, credentials.password, environment)


def fetch_ncmec(
    database: Database,
    bank_name: str,
    client: Any,
    *,
    clock: Clock | None = None,
    progress: Callable[[int], None] | None = None,
    actor: str = SYSTEM,
) -> FetchReport:
    """Fetch every entry changed since the bank's last complete fetch.

    Each page is applied in its own transaction together with the checkpoint that points past
    it, so an interrupted run resumes at the next page. NCMEC does not return entries in time
    order, so the time range only moves forward once it has been read to the end.
    """
    with database.reader() as session:
        bank = bank_by_name(session, bank_name)
        state = load_checkpoint(session, bank.id, EXCHANGE)
    report = FetchReport(bank=bank_name, exchange=EXCHANGE)
    start = int(state.get("max_ts", 0))
    paging_url = str(state.get("paging_url", ""))
    clock = clock or SystemClock()

    def now() -> float:
        return clock.now().timestamp()

    end = int(now())
    if paging_url and now() - float(state.get("paging_ts", 0)) <= PAGING_URL_LIFETIME_S:
        # The paging URL is only valid with the time range it was issued for.
        end = int(state["paging_end_ts"])
        report.resumed = True
    else:
        paging_url = ""
    pages = client.get_entries_iter(
        start_timestamp=start, end_timestamp=end, resume_paging_url=paging_url
    )
    while True:
        try:
            response = next(pages, None)
        except requests.RequestException as error:
            raise FetchFailed(f"NCMEC fetch stopped: {_describe(error)}") from None
        if response is None:
            break
        with database.unit_of_work() as session:
            added, removed = report.added, report.removed
            for entry in response.updates:
                _apply_entry(session, bank.id, entry, report)
            record_fetched_page(
                session,
                actor,
                bank_name,
                EXCHANGE,
                entries=len(response.updates),
                added=report.added - added,
                removed=report.removed - removed,
            )
            if response.next:
                checkpoint = {
                    "max_ts": start,
                    "paging_url": response.next,
                    "paging_end_ts": end,
                    "paging_ts": now(),
                }
            else:
                checkpoint = {"max_ts": end}
            save_checkpoint(session, bank.id, EXCHANGE, checkpoint)
        report.pages += 1
        report.entries += len(response.updates)
        if progress is not None:
            progress(len(response.updates))
    return report


def _apply_entry(session: Any, bank_id: int, entry: Any, report: FetchReport) -> None:
    external_id = f"{entry.member_id}-{entry.id}"
    records = []
    if not entry.deleted:
        metadata = {
            "entry_type": entry.entry_type.value,
            "member_id": entry.member_id,
            "classification": entry.classification,
        }
        for name, value in entry.fingerprints.items():
            signal_type = FINGERPRINTS.get(name.lower())
            if signal_type is None:
                report.skipped[name.lower()] += 1
                continue
            try:
                canonical = get_signal_type(signal_type).validate(value)
            except InvalidHash:
                report.skipped[f"invalid_{signal_type}"] += 1
                continue
            records.append({"signal_type": signal_type, "value": canonical, "metadata": metadata})
    added, removed = replace_entry(session, bank_id, external_id, records, source=EXCHANGE)
    report.added += added
    report.removed += removed


def _describe(error: requests.RequestException) -> str:
    """Status and reason only: URLs may carry paging tokens, and nothing here prints secrets."""
    response = getattr(error, "response", None)
    if response is not None:
        return f"HTTP {response.status_code} {response.reason or ''}".strip()
    return type(error).__name__
