"""Importing lists: good lines in, bad lines reported by number, re-runs idempotent, all or nothing."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import select

from tutela.db import Database
from tutela.errors import InvalidInput
from tutela.indicators import ledger
from tutela.indicators.banks import create_bank, get_bank
from tutela.indicators.changes import ChangeOp, changes_since
from tutela.indicators.imports import ImportReport, import_indicators
from tutela.indicators.list_formats import ListFormat
from tutela.indicators.models import Indicator

MD5 = "0123456789abcdef0123456789abcdef"
SHA1 = "0123456789abcdef0123456789abcdef01234567"
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


@pytest.fixture
def bank(database: Database) -> str:
    create_bank(database, "list")
    return "list"


def run(
    database: Database, text: str, fmt: ListFormat = ListFormat.TEXT, signal_type: str | None = None
) -> ImportReport:
    return import_indicators(
        database, "list", io.StringIO(text), list_format=fmt, signal_type=signal_type
    )


def test_bad_lines_are_reported_by_number_and_the_good_ones_imported(
    database: Database, bank: str
) -> None:
    text = f"# a comment\n{MD5}\nnot-a-hash\n\n{SHA1}  # trailing comment\n{MD5[:-1]}\n"
    report = run(database, text)
    assert report.added == 2
    assert [(b.line, b.reason) for b in report.bad_lines] == [
        (3, "hash is not hexadecimal"),
        (6, "no signal type has 31-character hashes"),
    ]
    assert get_bank(database, bank).indicator_count == 2


def test_reimporting_the_same_list_adds_nothing(database: Database, bank: str) -> None:
    text = f"{MD5}\n{SHA1}\n{MD5.upper()}\n"
    first = run(database, text)
    with database.reader() as session:
        changes_after_first = len(changes_since(session, 0))
    second = run(database, text)
    assert (first.added, second.added, second.already_present) == (2, 0, 3)
    with database.reader() as session:
        assert len(changes_since(session, 0)) == changes_after_first
    assert get_bank(database, bank).indicator_count == 2


def test_a_64_character_hash_without_a_signal_type_is_refused_and_nothing_is_written(
    database: Database, bank: str
) -> None:
    with pytest.raises(InvalidInput, match=r"line 2: .*pdq or sha256.*--signal-type"):
        run(database, f"{MD5}\n{PDQ}\n")
    assert get_bank(database, bank).indicator_count == 0


def test_a_signal_type_given_resolves_64_character_hashes(database: Database, bank: str) -> None:
    report = run(database, f"{PDQ}\n", signal_type="pdq")
    assert report.added == 1


def test_a_hash_of_the_wrong_length_for_the_given_type_is_a_bad_line(
    database: Database, bank: str
) -> None:
    report = run(database, f"{PDQ}\n{MD5}\n", signal_type="sha256")
    assert report.added == 1
    assert report.bad_lines[0].line == 2


def test_csv_rows_carry_their_signal_type_external_id_tags_and_metadata(
    database: Database, bank: str
) -> None:
    text = (
        "signal_type,hash,external_id,tags,metadata\n"
        f'pdq,{PDQ},case-1,A1 B2,"{{""note"": ""x""}}"\n'
        f"sha1,{SHA1},,,\n"
        "md5,zz,,,\n"
        f"nonsense,{MD5},,,\n"
    )
    report = run(database, text, ListFormat.CSV)
    assert report.added == 2
    assert [b.line for b in report.bad_lines] == [4, 5]


def test_a_csv_without_a_hash_column_is_refused(database: Database, bank: str) -> None:
    with pytest.raises(InvalidInput, match="hash column"):
        run(database, "a,b\n1,2\n", ListFormat.CSV)


def test_json_lines_are_read_and_broken_ones_reported(database: Database, bank: str) -> None:
    lines = [
        json.dumps({"signal_type": "pdq", "value": PDQ, "tags": ["A1"]}),
        "{broken",
        json.dumps({"hash": MD5, "metadata": {"source": "hotline"}}),
        json.dumps(["not", "an", "object"]),
    ]
    report = run(database, "\n".join(lines) + "\n", ListFormat.JSONL)
    assert report.added == 2
    assert [b.line for b in report.bad_lines] == [2, 4]


def test_hma_bank_csv_maps_threatexchange_signal_names(database: Database, bank: str) -> None:
    text = (
        "signal_type,signal_str,collab,category,tags\n"
        f"pdq,{PDQ},shared,,A1\n"
        f"video_md5,{MD5},shared,,\n"
    )
    report = run(database, text, ListFormat.HMA)
    assert (report.added, report.bad_count) == (2, 0)


def test_a_list_of_many_chunks_is_stored_row_for_row_with_one_change_each(
    database: Database, bank: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chunks of 2,000, 2,000 and 500 rows: on PostgreSQL the first two go by COPY, the last as
    # bound arrays; values COPY's text format must escape (tab, newline, backslash, quotes,
    # non-ASCII) travel in the external ids and metadata.
    monkeypatch.setattr(ledger, "CHUNK_ROWS", 2000)
    awkward = 'a\tb\nc\\d "e" ü,'
    rows = []
    expected = {}
    for i in range(4500):
        value = f"{i:064x}"
        external = None if i % 3 == 0 else f"{awkward}{i}"
        metadata = {"note": f"{awkward}{i}"} if i % 2 else None
        cells = ["pdq", value, external or "", json.dumps(metadata) if metadata else ""]
        rows.append(",".join('"' + cell.replace('"', '""') + '"' for cell in cells))
        expected[value] = (external, metadata)
    text = "signal_type,hash,external_id,metadata\n" + "\n".join(rows) + "\n"
    first = run(database, text, ListFormat.CSV)
    again = run(database, text, ListFormat.CSV)
    assert (first.added, first.bad_count, again.added, again.already_present) == (4500, 0, 0, 4500)
    with database.reader() as session:
        stored = {
            row.value: (row.id, row.external_id, row.meta)
            for row in session.execute(
                select(Indicator.id, Indicator.value, Indicator.external_id, Indicator.meta)
            )
        }
        added = [c.indicator_id or 0 for c in changes_since(session, 0) if c.op == ChangeOp.ADD]
    assert {value: (ext, meta) for value, (_, ext, meta) in stored.items()} == expected
    assert sorted(added) == sorted(ident for ident, _, _ in stored.values())
