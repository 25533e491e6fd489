"""Importing indicator lists into a bank: one transaction, bad lines reported, re-runs add none."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tutela.audit.log import SYSTEM
from tutela.db.database import Database
from tutela.errors import NotFound, Unreadable
from tutela.indicators.bank_audit import BankAction, record_bank_change
from tutela.indicators.banks import bank_by_name
from tutela.indicators.ledger import insert_indicators
from tutela.indicators.list_formats import BadLine, ListFormat, ListReader, format_for_path
from tutela.indicators.variants import Variants, store_variants


@dataclass(frozen=True, slots=True)
class ImportReport:
    bank: str
    added: int
    already_present: int
    bad_count: int
    bad_lines: list[BadLine] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "bank": self.bank,
            "added": self.added,
            "already_present": self.already_present,
            "bad": self.bad_count,
            "bad_lines": [bad.as_dict() for bad in self.bad_lines],
        }


def import_indicators(
    database: Database,
    bank_name: str,
    lines: Iterable[str],
    *,
    list_format: ListFormat = ListFormat.TEXT,
    signal_type: str | None = None,
    source: str | None = None,
    progress: Callable[[int], None] | None = None,
    actor: str = SYSTEM,
) -> ImportReport:
    """Add every good line of a list to a bank in one transaction, audited as `actor`'s.

    Lines already in the bank are skipped (so a re-import adds nothing); bad lines are reported
    with their number and reason. A list-wide error (a hash whose type cannot be told, a CSV with
    no hash column) raises before anything is committed.
    """
    reader = ListReader(list_format, signal_type)
    variants: dict[str, Variants] = {}

    def noting_variants(records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for record in records:
            if "variants" in record:
                variants[record["value"]] = record["variants"]
            yield record

    with database.unit_of_work() as session:
        bank = bank_by_name(session, bank_name)
        added = insert_indicators(
            session,
            bank.id,
            noting_variants(reader.records(lines)),
            source=source,
            progress=progress,
        )
        # PDQs' variants (a JSON Lines export's `variants`), once their indicators exist.
        store_variants(session, bank.id, variants)
        record_bank_change(
            session,
            actor,
            BankAction.IMPORT,
            bank_name,
            {
                "source": source,
                "format": list_format.value,
                "added": added,
                "already_present": reader.good_count - added,
                "bad": reader.bad_count,
            },
        )
    return ImportReport(
        bank=bank_name,
        added=added,
        already_present=reader.good_count - added,
        bad_count=reader.bad_count,
        bad_lines=reader.bad,
    )


def import_file(
    database: Database,
    bank_name: str,
    path: Path,
    *,
    list_format: ListFormat | None = None,
    signal_type: str | None = None,
    progress: Callable[[int], None] | None = None,
    actor: str = SYSTEM,
) -> ImportReport:
    """Import a list file; its name is the indicators' provenance and, by default, its format."""
    chosen = list_format or format_for_path(path.name)
    with open_list(path) as handle:
        return import_indicators(
            database,
            bank_name,
            handle,
            list_format=chosen,
            signal_type=signal_type,
            source=f"file:{path.name}",
            progress=progress,
            actor=actor,
        )


def count_lines(path: Path) -> int:
    """Lines in a file, counted in binary blocks (fast enough to size a progress bar)."""
    total = 0
    try:
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                total += block.count(b"\n")
    except OSError as error:
        raise _file_error(path, error) from None
    return total


@contextmanager
def open_list(path: Path) -> Iterator[TextIO]:
    """A list file as text; decoding errors surface as Unreadable, not a traceback."""
    try:
        # utf-8-sig: lists saved by spreadsheet programs start with a byte-order mark.
        handle = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115  (closed below)
    except OSError as error:
        raise _file_error(path, error) from None
    try:
        yield handle
    except UnicodeDecodeError:
        raise Unreadable(f"{path} is not UTF-8 text") from None
    finally:
        handle.close()


def _file_error(path: Path, error: OSError) -> NotFound | Unreadable:
    if isinstance(error, FileNotFoundError):
        return NotFound(f"no such file: {path}")
    return Unreadable(f"cannot read {path}: {error.strerror or type(error).__name__}")
