"""Indicator variants travel in CSV and HMA exports too (issue 16): a bank built by
`bank add-media` exported as CSV or HMA's CSV and imported again has the same indicators with
the same variants; a bank without variants exports as before, and a reader that knows no
variants (the list reader before this change) reads the same indicators from the new files."""

from __future__ import annotations

import io
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from skimage import data as skdata
from sqlalchemy import select

from tutela.db import Database
from tutela.indicators.banks import create_bank
from tutela.indicators.exports import export_indicators
from tutela.indicators.imports import import_indicators
from tutela.indicators.ledger import add_indicator
from tutela.indicators.list_formats import ListFormat, ListReader
from tutela.indicators.media_banks import add_media
from tutela.indicators.models import Bank, Indicator
from tutela.indicators.variants import Variants, variants_of
from tutela.media.limits import MediaLimits
from tutela.signals.media_indicator import media_indicator

# The last commit whose list reader knew no `variants` column: the "older reader".
BEFORE_CSV_VARIANTS = "006929f"
CSV_FORMATS = [ListFormat.CSV, ListFormat.HMA]


@pytest.fixture
def known(database: Database, tmp_path: Path) -> str:
    """Bank "known" holds the astronaut photo as add-media banks it; returns its PDQ."""
    path = tmp_path / "astronaut.png"
    Image.fromarray(skdata.astronaut()).save(path)  # type: ignore[no-untyped-call]
    image = media_indicator(str(path), limits=MediaLimits())
    assert image.pdq is not None and len(image.variants) == 14
    create_bank(database, "known")
    add_media(database, "known", [image])
    return image.pdq


def exported(database: Database, bank: str, list_format: ListFormat) -> str:
    out = io.StringIO()
    export_indicators(database, bank, out, list_format=list_format)
    return out.getvalue()


def bank_contents(database: Database, bank: str) -> dict[tuple[str, str], Variants]:
    """(signal type, value) → variants of every indicator in the bank."""
    with database.reader() as session:
        rows = session.execute(
            select(Indicator.id, Indicator.signal_type, Indicator.value)
            .join(Bank, Bank.id == Indicator.bank_id)
            .where(Bank.name == bank)
        ).all()
        found = variants_of(session, [ident for ident, _, _ in rows])
    return {(kind, value): found.get(ident, ()) for ident, kind, value in rows}


@pytest.mark.parametrize("list_format", CSV_FORMATS, ids=lambda f: f.value)
def test_a_csv_export_carries_the_variants_into_another_bank(
    database: Database, known: str, list_format: ListFormat
) -> None:
    text = exported(database, "known", list_format)
    assert text.splitlines()[0].endswith(",variants")
    create_bank(database, "copy")
    report = import_indicators(database, "copy", text.splitlines(), list_format=list_format)
    assert report.bad_count == 0 and report.added == 3  # MD5, SHA-256, PDQ
    original, copy = bank_contents(database, "known"), bank_contents(database, "copy")
    assert copy == original
    assert len(copy["pdq", known]) == 14
    # And out again: the same file, so the round trip loses nothing.
    assert exported(database, "copy", list_format) == text


@pytest.mark.parametrize("list_format", CSV_FORMATS, ids=lambda f: f.value)
def test_a_bank_without_variants_exports_without_the_column(
    database: Database, list_format: ListFormat
) -> None:
    create_bank(database, "plain")
    add_indicator(database, "plain", "pdq", "f" * 64)
    header, row = exported(database, "plain", list_format).splitlines()
    assert "variants" not in header and row.count(",") == header.count(",")


def older_list_formats() -> Any:
    """tutela.indicators.list_formats as it was before the variants column, loaded from git."""
    repo = Path(__file__).resolve().parents[1]
    try:
        source = subprocess.run(
            ["git", "show", f"{BEFORE_CSV_VARIANTS}:src/tutela/indicators/list_formats.py"],
            cwd=repo,
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("the older reader's source is not at hand (no git history)")
    assert '"variants"' not in source.split("KNOWN_COLUMNS", 1)[1].split("\n", 1)[0]
    module = types.ModuleType("older_list_formats")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    try:
        exec(compile(source, "older_list_formats.py", "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    return module


@pytest.mark.parametrize("list_format", CSV_FORMATS, ids=lambda f: f.value)
def test_an_older_reader_reads_the_same_indicators_from_an_export_with_variants(
    database: Database, known: str, list_format: ListFormat
) -> None:
    older = older_list_formats()
    lines = exported(database, "known", list_format).splitlines()
    reader = older.ListReader(older.ListFormat(list_format.value))
    records = list(reader.records(lines))
    assert reader.bad_count == 0
    ours = list(ListReader(list_format).records(lines))
    assert [(r["signal_type"], r["value"]) for r in records] == [
        (r["signal_type"], r["value"]) for r in ours
    ]


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("crop95-c", "name:pdq-hash"),
        ("crop95-c:xyz", "64 hex characters"),
        ("Crop:" + "f" * 64, "variant name"),
    ],
)
def test_a_bad_variants_cell_is_a_bad_line_and_the_rest_is_read(cell: str, reason: str) -> None:
    lines = [
        "signal_type,value,variants",
        f"pdq,{'e' * 64},{cell}",
        f"pdq,{'d' * 64},crop95-c:{'c' * 64}",
        f"md5,{'a' * 32},crop95-c:{'c' * 64}",
    ]
    reader = ListReader(ListFormat.CSV)
    records = list(reader.records(lines))
    assert [r["value"] for r in records] == ["d" * 64]
    assert records[0]["variants"] == (("crop95-c", "c" * 64),)
    assert [bad.line for bad in reader.bad] == [2, 4]
    assert reason.lower() in reader.bad[0].reason.lower()
    assert "only a pdq" in reader.bad[1].reason.lower()
