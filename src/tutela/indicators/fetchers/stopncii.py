"""StopNCII → a bank: PDQ of images and MD5 of videos, withdrawn cases removed, resumable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests
from threatexchange.exchanges.clients.stopncii.api import (
    StopNCIIAPI,
    StopNCIICaseStatus,
    StopNCIISignalType,
)

from tutela.audit.log import SYSTEM
from tutela.db.database import Database
from tutela.errors import InvalidHash
from tutela.indicators.bank_audit import record_fetched_page
from tutela.indicators.banks import bank_by_name
from tutela.indicators.fetchers.checkpoints import (
    FetchFailed,
    FetchReport,
    load_checkpoint,
    save_checkpoint,
)
from tutela.indicators.fetchers.credentials import StopNciiCredentials
from tutela.indicators.ledger import delete_values, insert_indicators
from tutela.signals.registry import get_signal_type

EXCHANGE = "stopncii"
SIGNALS = {StopNCIISignalType.ImagePDQ: "pdq", StopNCIISignalType.VideoMD5: "md5"}
# A person withdrew their case (or it was deleted): the hash must stop matching.
GONE = {StopNCIICaseStatus.Withdrawn, StopNCIICaseStatus.Deleted}
PAGE_SIZE = 800


def stopncii_client(credentials: StopNciiCredentials) -> Any:
    return StopNCIIAPI(
        credentials.subscription_key,
        credentials.fetch_key,
        base_url_override=credentials.url.rstrip("/") if credentials.url else None,
    )


def fetch_stopncii(
    database: Database,
    bank_name: str,
    client: Any,
    *,
    progress: Callable[[int], None] | None = None,
    actor: str = SYSTEM,
) -> FetchReport:
    """Fetch every record changed since the bank's checkpoint.

    Records are snapshots (a later one replaces an earlier one for the same hash), so after each
    page the checkpoint moves to the API's `nextSetTimestamp`, in the same transaction as the
    page; a re-run re-reads at most one page.
    """
    with database.reader() as session:
        bank = bank_by_name(session, bank_name)
        state = load_checkpoint(session, bank.id, EXCHANGE)
    report = FetchReport(bank=bank_name, exchange=EXCHANGE, resumed=bool(state))
    start = int(state.get("start_timestamp", StopNCIIAPI.DEFAULT_START_TIME))
    next_page = ""
    while True:
        try:
            response = client.fetch_hashes(
                page_size=PAGE_SIZE, start_timestamp=start, next_page=next_page
            )
        except requests.RequestException as error:
            raise FetchFailed(f"StopNCII fetch stopped: {_describe(error)}") from None
        with database.unit_of_work() as session:
            added, removed = report.added, report.removed
            for record in response.hashRecords:
                _apply_record(session, bank.id, record, report)
            record_fetched_page(
                session,
                actor,
                bank_name,
                EXCHANGE,
                entries=len(response.hashRecords),
                added=report.added - added,
                removed=report.removed - removed,
            )
            save_checkpoint(
                session, bank.id, EXCHANGE, {"start_timestamp": response.nextSetTimestamp}
            )
        report.pages += 1
        report.entries += len(response.hashRecords)
        if progress is not None:
            progress(len(response.hashRecords))
        if not response.hasMoreRecords:
            return report
        next_page = response.nextPageToken or ""


def _apply_record(session: Any, bank_id: int, record: Any, report: FetchReport) -> None:
    signal_type = SIGNALS.get(record.signalType)
    if signal_type is None:
        report.skipped[str(record.signalType.value)] += 1
        return
    try:
        value = get_signal_type(signal_type).validate(record.hashValue)
    except InvalidHash:
        report.skipped[f"invalid_{signal_type}"] += 1
        return
    if record.hashStatus in GONE:
        report.removed += delete_values(session, bank_id, signal_type, [value])
        return
    metadata = {
        "status": record.hashStatus.value,
        "cases": sorted(record.caseNumbers),
        "last_modified": record.lastModtimestamp,
    }
    row = {"signal_type": signal_type, "value": value, "metadata": metadata}
    report.added += insert_indicators(session, bank_id, [row], source=EXCHANGE)


def _describe(error: requests.RequestException) -> str:
    response = getattr(error, "response", None)
    if response is not None:
        return f"HTTP {response.status_code} {response.reason or ''}".strip()
    return type(error).__name__
