"""Writing a bank's indicators out in the formats imports read, so lists round-trip unchanged.

A PDQ's variants (tutela.indicators.variants) travel in JSON Lines (`variants`) and, in CSV and
HMA's CSV, in a last `variants` column (`name:hex` pairs, space-separated) that is written only
when the bank holds variants: a bank without any exports byte for byte as before, and readers
that pick columns by name (csv.DictReader, HMA, spreadsheets) read the same indicators.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.db.database import Database
from tutela.errors import InvalidInput
from tutela.indicators.banks import bank_by_name
from tutela.indicators.list_formats import ListFormat
from tutela.indicators.models import Indicator
from tutela.indicators.variant_models import IndicatorVariants
from tutela.indicators.variants import Variants, as_cell, as_json, variants_of
from tutela.indicators.video_banks import VPDQ, video_frames
from tutela.signals.vpdq import to_threatexchange

# Our names → threatexchange/HMA names; SHA-1 has no HMA signal type and is left out there.
HMA_SIGNAL_NAMES = {"pdq": "pdq", "md5": "video_md5", "sha256": "video_sha256", "vpdq": "vpdq"}
CSV_COLUMNS = ("signal_type", "value", "external_id", "tags", "metadata")
HMA_COLUMNS = ("signal_type", "signal_str", "collab", "category", "tags")
VARIANTS_COLUMN = "variants"  # after the others, and only when the bank holds variants
FETCH_ROWS = 10_000


def export_indicators(
    database: Database,
    bank_name: str,
    out: TextIO,
    *,
    list_format: ListFormat = ListFormat.CSV,
    signal_type: str | None = None,
) -> int:
    """Write the bank's indicators (of one signal type, if given) to `out`; return how many."""
    with database.reader() as session:
        bank = bank_by_name(session, bank_name)
        if list_format is ListFormat.TEXT and signal_type is None:
            types = session.scalars(
                select(Indicator.signal_type).where(Indicator.bank_id == bank.id).distinct()
            ).all()
            if len(types) > 1:
                raise InvalidInput(
                    f"bank {bank_name!r} holds {', '.join(sorted(types))}; a text list holds "
                    "one signal type, so say which with --signal-type"
                )
        rows = _indicators(session, bank.id, signal_type)
        if list_format is ListFormat.TEXT:
            return _write_text(rows, out)
        with_variants = _with_variants(session, rows)
        if list_format is ListFormat.JSONL:
            return _write_jsonl(with_variants, out)
        column = _has_variants(session, bank.id)
        if list_format is ListFormat.HMA:
            return _write_hma(with_variants, out, bank_name, variants_column=column)
        return _write_csv(with_variants, out, variants_column=column)


def _has_variants(session: Session, bank_id: int) -> bool:
    """Whether any indicator of the bank has variants (then CSV exports get their column)."""
    query = (
        select(IndicatorVariants.indicator_id)
        .join(Indicator, Indicator.id == IndicatorVariants.indicator_id)
        .where(Indicator.bank_id == bank_id)
    )
    return bool(session.scalar(select(query.exists())))


def _indicators(session: Session, bank_id: int, signal_type: str | None) -> Iterator[Indicator]:
    query = select(Indicator).where(Indicator.bank_id == bank_id).order_by(Indicator.id)
    if signal_type is not None:
        query = query.where(Indicator.signal_type == signal_type)
    # Streamed in batches: a bank of millions never sits in memory as objects.
    for indicator in session.scalars(query.execution_options(yield_per=FETCH_ROWS)):
        session.expunge(indicator)
        yield _as_exported(session, indicator)


def _as_exported(session: Session, indicator: Indicator) -> Indicator:
    """A video indicator goes out as its frames in python-threatexchange's form (the JSON list
    HMA and threatexchange exchange), not as the key it is stored under."""
    if indicator.signal_type != VPDQ:
        return indicator
    frames = video_frames(session, [indicator.id]).get(indicator.id)
    if frames is None:
        return indicator
    return Indicator(
        id=indicator.id,
        bank_id=indicator.bank_id,
        signal_type=VPDQ,
        value=to_threatexchange(frames),
        source=indicator.source,
        external_id=indicator.external_id,
        disabled_until=indicator.disabled_until,
        meta=indicator.meta,
    )


def _with_variants(
    session: Session, rows: Iterator[Indicator]
) -> Iterator[tuple[Indicator, Variants]]:
    """Each indicator with its variants (tutela.indicators.variants), read a batch at a time."""
    batch: list[Indicator] = []
    for indicator in rows:
        batch.append(indicator)
        if len(batch) == FETCH_ROWS:
            yield from _batch_variants(session, batch)
            batch = []
    yield from _batch_variants(session, batch)


def _batch_variants(
    session: Session, batch: list[Indicator]
) -> Iterator[tuple[Indicator, Variants]]:
    found = variants_of(session, [i.id for i in batch if i.signal_type == "pdq"])
    for indicator in batch:
        yield indicator, found.get(indicator.id, ())


def _split_tags(indicator: Indicator) -> tuple[list[str], dict[str, Any]]:
    metadata = dict(indicator.meta or {})
    tags = metadata.pop("tags", [])
    return (tags if isinstance(tags, list) else [str(tags)]), metadata


def _write_text(rows: Iterator[Indicator], out: TextIO) -> int:
    count = 0
    for indicator in rows:
        out.write(indicator.value + "\n")
        count += 1
    return count


def _write_csv(
    rows: Iterator[tuple[Indicator, Variants]], out: TextIO, *, variants_column: bool
) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS + ((VARIANTS_COLUMN,) if variants_column else ()))
    count = 0
    for indicator, variants in rows:
        tags, metadata = _split_tags(indicator)
        row = (
            indicator.signal_type,
            indicator.value,
            indicator.external_id or "",
            " ".join(tags),
            json.dumps(metadata, sort_keys=True) if metadata else "",
        )
        writer.writerow(row + ((as_cell(variants),) if variants_column else ()))
        count += 1
    return count


def _write_jsonl(rows: Iterator[tuple[Indicator, Variants]], out: TextIO) -> int:
    count = 0
    for indicator, variants in rows:
        tags, metadata = _split_tags(indicator)
        line: dict[str, Any] = {"signal_type": indicator.signal_type, "value": indicator.value}
        if indicator.external_id:
            line["external_id"] = indicator.external_id
        if tags:
            line["tags"] = tags
        if metadata:
            line["metadata"] = metadata
        if indicator.disabled_until is not None:
            line["disabled_until"] = indicator.disabled_until.isoformat()
        if variants:
            line["variants"] = as_json(variants)
        out.write(json.dumps(line, separators=(",", ":"), sort_keys=True) + "\n")
        count += 1
    return count


def _write_hma(
    rows: Iterator[tuple[Indicator, Variants]],
    out: TextIO,
    bank_name: str,
    *,
    variants_column: bool,
) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HMA_COLUMNS + ((VARIANTS_COLUMN,) if variants_column else ()))
    count = 0
    for indicator, variants in rows:
        name = HMA_SIGNAL_NAMES.get(indicator.signal_type)
        if name is None:
            continue
        tags, metadata = _split_tags(indicator)
        row = (
            name,
            indicator.value,
            metadata.get("collab", bank_name),
            metadata.get("category", ""),
            " ".join(tags),
        )
        writer.writerow(row + ((as_cell(variants),) if variants_column else ()))
        count += 1
    return count
