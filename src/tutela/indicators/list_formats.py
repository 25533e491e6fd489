"""Reading indicator lists: plain text, CSV, JSON Lines and HMA's (threatexchange's) bank CSV.

Every reader yields validated records and collects bad lines (line number and reason) on the
side, so that an import can keep the good lines and report the rest.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tutela.errors import InvalidHash, InvalidInput
from tutela.indicators.variants import check_variants
from tutela.signals.registry import get_signal_type, signal_types


class ListFormat(StrEnum):
    TEXT = "text"
    CSV = "csv"
    JSONL = "jsonl"
    # `threatexchange dataset -P --csv` and HMA: signal_type,signal_str,collab,category,tags.
    HMA = "hma"


# Names other tools use for our signal types. HMA and threatexchange call a file MD5 "video_md5"
# and a file SHA-256 "video_sha256"; a hash of file bytes is the same whatever the file holds.
SIGNAL_ALIASES = {
    "video_md5": "md5",
    "video_sha256": "sha256",
    "sha-1": "sha1",
    "sha-256": "sha256",
}
# Hex length → the one signal type it can be; 64 is PDQ or SHA-256, so never guessed.
SIGNAL_BY_LENGTH = {32: "md5", 40: "sha1"}
AMBIGUOUS_TYPES = {64: ("pdq", "sha256")}
AMBIGUOUS_LENGTHS = {length: " or ".join(names) for length, names in AMBIGUOUS_TYPES.items()}
VALUE_COLUMNS = ("value", "hash", "signal_str", "signal_value", "signal")
KNOWN_COLUMNS = {"signal_type", "external_id", "tags", "metadata", *VALUE_COLUMNS}
HEX = re.compile(r"^[0-9a-fA-F]+$")
TAG_SPLIT = re.compile(r"[\s,;]+")
# Bad lines kept with their reason; beyond this only counted, so a garbage file cannot fill memory.
MAX_REPORTED_BAD_LINES = 1000

Record = dict[str, Any]


# What a line `tutela hash --json` printed is told when read as another format.
HASH_LINE_REASON = (
    "a `tutela hash --json` line: import the file without --format and --signal-type, "
    "and each file's signals are banked"
)


def is_hash_line(line: str) -> bool:
    """Whether `line` is a line of `tutela hash --json` (an object with `path` and `signals`)."""
    if not line.lstrip().startswith("{"):
        return False
    try:
        obj = json.loads(line)
    except ValueError:
        return False
    return isinstance(obj, dict) and "path" in obj and isinstance(obj.get("signals"), dict)


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "reason": self.reason}


@dataclass
class ListReader:
    """Turns the lines of one list into records; `bad`/`bad_count` fill in as it goes.

    `every_type`: a hash whose length fits several signal types (64 hex: PDQ or SHA-256) is not
    refused but read as each, listed in the record's `candidates` as (signal type, value). For
    matching, where asking both costs nothing; an import must know what it stores.
    """

    format: ListFormat
    signal_type: str | None = None
    every_type: bool = False
    bad: list[BadLine] = field(default_factory=list)
    bad_count: int = 0
    good_count: int = 0
    _validators: dict[str, Callable[[str], str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.signal_type is not None:
            self.signal_type = self._canonical_type(self.signal_type)

    def records(self, lines: Iterable[str]) -> Iterator[Record]:
        parse = {
            ListFormat.TEXT: self._text,
            ListFormat.CSV: self._csv,
            ListFormat.HMA: self._csv,
            ListFormat.JSONL: self._jsonl,
        }[self.format]
        for number, outcome in parse(lines):
            if isinstance(outcome, str):
                self._reject(number, outcome)
            else:
                self.good_count += 1
                yield outcome

    def _text(self, lines: Iterable[str]) -> Iterator[tuple[int, Record | str]]:
        for number, raw in enumerate(lines, start=1):
            if is_hash_line(raw):
                yield number, HASH_LINE_REASON
                continue
            text = raw.split("#", 1)[0].strip()
            if text:
                yield number, self._record(number, None, text, None, None)

    def _csv(self, lines: Iterable[str]) -> Iterator[tuple[int, Record | str]]:
        reader = csv.reader(lines)
        header = next(reader, None)
        if header is None:
            return
        columns = [name.strip().lower() for name in header]
        value_column = next((c for c in VALUE_COLUMNS if c in columns), None)
        if value_column is None:
            raise InvalidInput(
                "line 1: CSV header names no hash column (one of: " + ", ".join(VALUE_COLUMNS) + ")"
            )
        for row in reader:
            number = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(columns):
                yield number, f"expected {len(columns)} fields, found {len(row)}"
                continue
            cells = dict(zip(columns, (cell.strip() for cell in row), strict=True))
            yield number, self._row(number, cells, value_column)

    def _row(self, number: int, cells: dict[str, str], value_column: str) -> Record | str:
        metadata: dict[str, Any] = {}
        if cells.get("metadata"):
            try:
                parsed = json.loads(cells["metadata"])
            except json.JSONDecodeError:
                return "metadata is not valid JSON"
            if not isinstance(parsed, dict):
                return "metadata must be a JSON object"
            metadata.update(parsed)
        # Columns we do not know (HMA's collab, category) are kept as provenance, not dropped.
        metadata.update({k: v for k, v in cells.items() if k not in KNOWN_COLUMNS and v})
        tags = [t for t in TAG_SPLIT.split(cells.get("tags", "")) if t]
        return self._record(
            number,
            cells.get("signal_type") or None,
            cells[value_column],
            cells.get("external_id") or None,
            _with_tags(metadata, tags),
        )

    def _jsonl(self, lines: Iterable[str]) -> Iterator[tuple[int, Record | str]]:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as error:
                yield number, f"not valid JSON ({error.msg})"
                continue
            if not isinstance(obj, dict):
                yield number, "not a JSON object"
                continue
            yield number, self._object(number, obj)

    def _object(self, number: int, obj: dict[str, Any]) -> Record | str:
        if "path" in obj and isinstance(obj.get("signals"), dict):
            return HASH_LINE_REASON
        value = next((obj[c] for c in VALUE_COLUMNS if c in obj), None)
        if not isinstance(value, str):
            return "no hash: give a string in 'value' (or 'hash')"
        metadata = obj.get("metadata") or {}
        if not isinstance(metadata, dict):
            return "metadata must be a JSON object"
        tags = obj.get("tags") or []
        if not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
            return "tags must be a list of strings"
        signal_type = obj.get("signal_type")
        external_id = obj.get("external_id")
        if signal_type is not None and not isinstance(signal_type, str):
            return "signal_type must be a string"
        if external_id is not None:
            external_id = str(external_id)
        record = self._record(number, signal_type, value, external_id, _with_tags(metadata, tags))
        if "variants" in obj and isinstance(record, dict):
            # A PDQ's variants (tutela.indicators.variants), as our JSON Lines export writes them.
            if record["signal_type"] != "pdq":
                return "only a PDQ hash has variants"
            try:
                record["variants"] = check_variants(obj["variants"])
            except InvalidInput as error:
                return error.message
        return record

    def _record(
        self,
        number: int,
        signal_type: str | None,
        value: str,
        external_id: str | None,
        metadata: dict[str, Any] | None,
    ) -> Record | str:
        value = value.strip()
        if not HEX.match(value):
            return "hash is not hexadecimal"
        try:
            name = (
                self._canonical_type(signal_type)
                if signal_type
                else self._inferred_type(number, value)
            )
        except _Ambiguous:
            if not self.every_type:
                raise
            return self._each_type(value, external_id, metadata)
        except InvalidInput as error:
            return error.message
        try:
            canonical = self._validator(name)(value)
        except InvalidHash as error:
            return error.message
        return {
            "signal_type": name,
            "value": canonical,
            "external_id": external_id,
            "metadata": metadata or None,
        }

    def _each_type(
        self, value: str, external_id: str | None, metadata: dict[str, Any] | None
    ) -> Record | str:
        candidates = []
        reason = ""
        for name in AMBIGUOUS_TYPES[len(value)]:
            try:
                candidates.append((name, self._validator(name)(value)))
            except InvalidHash as error:
                reason = error.message
        if not candidates:
            return reason
        name, canonical = candidates[0]
        return {
            "signal_type": name,
            "value": canonical,
            "external_id": external_id,
            "metadata": metadata or None,
            "candidates": candidates,
        }

    def _inferred_type(self, number: int, value: str) -> str:
        if self.signal_type is not None:
            return self.signal_type
        if len(value) in AMBIGUOUS_LENGTHS:
            raise _Ambiguous(
                f"line {number}: a {len(value)}-character hash could be "
                f"{AMBIGUOUS_LENGTHS[len(value)]}; say which with --signal-type"
            )
        name = SIGNAL_BY_LENGTH.get(len(value))
        if name is None:
            raise InvalidInput(f"no signal type has {len(value)}-character hashes")
        return name

    def _canonical_type(self, name: str) -> str:
        key = name.strip().lower()
        key = SIGNAL_ALIASES.get(key, key)
        if key not in signal_types():
            raise InvalidInput(
                f"unknown signal type {name!r}; known: {', '.join(sorted(signal_types()))}"
            )
        return key

    def _validator(self, name: str) -> Callable[[str], str]:
        validate = self._validators.get(name)
        if validate is None:
            validate = self._validators[name] = get_signal_type(name).validate
        return validate

    def _reject(self, number: int, reason: str) -> None:
        self.bad_count += 1
        if len(self.bad) < MAX_REPORTED_BAD_LINES:
            self.bad.append(BadLine(number, reason))


class _Ambiguous(InvalidInput):
    """A hash whose type cannot be told from its length: the whole list needs --signal-type."""


def _with_tags(metadata: dict[str, Any], tags: list[str]) -> dict[str, Any]:
    if tags:
        metadata["tags"] = tags
    return metadata


def format_for_path(path: str) -> ListFormat:
    """Guess a list's format from its file name; plain text unless it says otherwise."""
    lower = path.lower()
    if lower.endswith(".csv"):
        return ListFormat.CSV
    if lower.endswith((".jsonl", ".ndjson")):
        return ListFormat.JSONL
    return ListFormat.TEXT
