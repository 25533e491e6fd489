"""Video indicators (`vpdq`) in banks: imported from the text forms of Meta's vPDQ tools and
python-threatexchange, stored one row per video with its frames beside it, exported back.

A video indicator's `value` in `indicators` is the SHA-256 of its frames in threatexchange's form
(`video_key`): the same video is banked once whichever form it arrived in, and the unique
constraint of (bank, signal type, value) keeps re-imports from adding it again. Its frames, frame
numbers included, are in `video_indicators` (written in the same transaction as the indicator and
its change row, so a matcher that sees the change finds them).

Lists read here:
- one video per file: Meta's line form (`frame,quality,pdq_hex,seconds` per line), the `vpdq`
  Python package command's lines (`pdq_hex,quality,seconds`) or a JSON list of
  `"pdq_hex,quality,seconds"` strings (python-threatexchange, HMA), pretty-printed or not;
- several videos: a text file with one JSON list per line, JSON Lines objects
  `{"signal_type": "vpdq", "value": …}` (value a JSON list or its text), or CSV with a
  `signal_type` column and the JSON text in `value`/`signal_str` (our export, HMA's and
  `threatexchange dataset --csv`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.audit.log import SYSTEM
from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.errors import InvalidHash, InvalidInput, NotFound, Unreadable
from tutela.indicators.bank_audit import BankAction, record_bank_change
from tutela.indicators.banks import bank_by_name
from tutela.indicators.changes import ChangeOp, record_change
from tutela.indicators.imports import ImportReport
from tutela.indicators.list_formats import (
    MAX_REPORTED_BAD_LINES,
    TAG_SPLIT,
    VALUE_COLUMNS,
    BadLine,
)
from tutela.indicators.models import Indicator
from tutela.indicators.video_models import VideoIndicator
from tutela.signals.vpdq import (
    VpdqFrame,
    parse_vpdq,
    to_reference_lines,
    to_threatexchange,
)

VPDQ = "vpdq"
# Largest vPDQ list file read (a four-hour video at one frame a second is ~1.3 MB of text).
MAX_LIST_BYTES = 512 * 1024 * 1024
_REFERENCE_LINE = re.compile(
    r"^\s*(\d+\s*,\s*\d+\s*,\s*[0-9a-fA-F]{64}|[0-9a-fA-F]{64}\s*,\s*\d+)\s*,\s*[0-9.eE+-]+\s*$"
)


@dataclass(frozen=True, slots=True)
class VideoRecord:
    """One video to bank: its frames, and where it came from."""

    frames: tuple[VpdqFrame, ...]
    external_id: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass
class VideoList:
    """The good videos of a list and its bad lines (number and reason)."""

    records: list[VideoRecord] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)
    bad_count: int = 0

    def reject(self, line: int, reason: str) -> None:
        self.bad_count += 1
        if len(self.bad) < MAX_REPORTED_BAD_LINES:
            self.bad.append(BadLine(line, reason))


def video_key(frames: Sequence[VpdqFrame]) -> str:
    """What identifies a video's hash in a bank: SHA-256 of its threatexchange form."""
    return hashlib.sha256(to_threatexchange(frames).encode("ascii")).hexdigest()


# -- reading lists ----------------------------------------------------------------------------


def looks_like_video_list(path: Path) -> bool:
    """Whether a list file holds vPDQ hashes (so `bank import` needs no --signal-type)."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as handle:
            head = handle.read(256 * 1024)
    except OSError:
        return False
    stripped = head.lstrip()
    if stripped.startswith("["):
        return True
    first = next((line for line in stripped.splitlines() if line.strip()), "")
    if _REFERENCE_LINE.match(first):
        return True
    if first.startswith("{"):
        try:
            return bool(json.loads(first).get("signal_type") == VPDQ)
        except (ValueError, AttributeError):
            return False
    rows = list(csv.reader(io.StringIO("\n".join(stripped.splitlines()[:2]))))
    if len(rows) == 2 and "signal_type" in [c.strip().lower() for c in rows[0]]:
        index = [c.strip().lower() for c in rows[0]].index("signal_type")
        return index < len(rows[1]) and rows[1][index].strip().lower() == VPDQ
    return False


def read_video_list(text: str, *, name: str | None = None) -> VideoList:
    """The videos a list holds (see the module's docstring for the forms); `name`, a file's
    stem, is the external id of a one-video file."""
    out = VideoList()
    stripped = text.strip()
    if not stripped:
        return out
    lines = stripped.splitlines()
    if stripped.startswith("["):
        try:
            whole = json.loads(stripped)
        except ValueError:
            whole = None
        if isinstance(whole, list):
            _add(out, 1, stripped, name, None)
            return out
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                _add(out, number, line, None, None)
        return out
    if _REFERENCE_LINE.match(lines[0]):
        _add(out, 1, stripped, name, None)
        return out
    if lines[0].lstrip().startswith("{"):
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                _object(out, number, line)
        return out
    _csv(out, text)
    return out


def _add(
    out: VideoList, line: int, text: str, external_id: str | None, metadata: dict[str, Any] | None
) -> None:
    try:
        frames = parse_vpdq(text)
    except InvalidHash as error:
        out.reject(line, error.message)
        return
    out.records.append(VideoRecord(frames, external_id, metadata or None))


def _object(out: VideoList, number: int, line: str) -> None:
    try:
        obj = json.loads(line)
    except ValueError:
        out.reject(number, "not valid JSON")
        return
    if not isinstance(obj, dict):
        out.reject(number, "not a JSON object")
        return
    if str(obj.get("signal_type", VPDQ)).lower() != VPDQ:
        out.reject(number, f"signal type {obj.get('signal_type')!r} in a list of vpdq hashes")
        return
    value = next((obj[c] for c in VALUE_COLUMNS if c in obj), None)
    if isinstance(value, list):
        value = json.dumps(value)
    if not isinstance(value, str):
        out.reject(number, "no hash: give the vPDQ frames in 'value'")
        return
    metadata = obj.get("metadata") or {}
    tags = obj.get("tags") or []
    if not isinstance(metadata, dict) or not isinstance(tags, list):
        out.reject(number, "metadata must be an object and tags a list")
        return
    if tags:
        metadata = {**metadata, "tags": [str(t) for t in tags]}
    external = obj.get("external_id")
    _add(out, number, value, None if external is None else str(external), metadata)


def _csv(out: VideoList, text: str) -> None:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None) or []
    columns = [name.strip().lower() for name in header]
    value_column = next((c for c in VALUE_COLUMNS if c in columns), None)
    if value_column is None or "signal_type" not in columns:
        raise InvalidInput(
            "line 1: not a vPDQ list (a JSON list of frames, Meta's frame lines, JSON Lines, "
            "or CSV with signal_type and value columns)"
        )
    for row in reader:
        number = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            out.reject(number, f"expected {len(columns)} fields, found {len(row)}")
            continue
        cells = dict(zip(columns, (cell.strip() for cell in row), strict=True))
        if cells["signal_type"].lower() != VPDQ:
            out.reject(number, f"signal type {cells['signal_type']!r} in a list of vpdq hashes")
            continue
        metadata: dict[str, Any] = {}
        if cells.get("metadata"):
            try:
                parsed = json.loads(cells["metadata"])
            except ValueError:
                out.reject(number, "metadata is not valid JSON")
                continue
            if isinstance(parsed, dict):
                metadata.update(parsed)
        known = {"signal_type", "external_id", "tags", "metadata", *VALUE_COLUMNS}
        metadata.update({k: v for k, v in cells.items() if k not in known and v})
        tags = [t for t in TAG_SPLIT.split(cells.get("tags", "")) if t]
        if tags:
            metadata["tags"] = tags
        _add(out, number, cells[value_column], cells.get("external_id") or None, metadata)


# -- writing banks ----------------------------------------------------------------------------


def insert_videos(
    session: Session, bank_id: int, records: Iterable[VideoRecord], *, source: str | None
) -> int:
    """Bank each video not already in the bank (with its frames and its change row); the
    caller owns the transaction. Returns how many were new."""
    added = 0
    for record in records:
        key = video_key(record.frames)
        exists = session.scalar(
            select(Indicator.id).where(
                Indicator.bank_id == bank_id,
                Indicator.signal_type == VPDQ,
                Indicator.value == key,
            )
        )
        if exists is not None:
            continue
        now = utc_now()
        indicator = Indicator(
            bank_id=bank_id,
            signal_type=VPDQ,
            value=key,
            source=source,
            external_id=record.external_id,
            meta=record.metadata,
            created_at=now,
            updated_at=now,
        )
        session.add(indicator)
        session.flush()
        session.add(
            VideoIndicator(
                indicator_id=indicator.id,
                frame_count=len(record.frames),
                frames=to_reference_lines(record.frames),
            )
        )
        session.flush()
        record_change(session, bank_id, ChangeOp.ADD, indicator.id)
        added += 1
    return added


def import_videos(
    database: Database,
    bank_name: str,
    videos: VideoList,
    *,
    source: str | None = None,
    actor: str = SYSTEM,
) -> ImportReport:
    """Bank a list's good videos in one transaction, audited as `actor`'s."""
    with database.unit_of_work() as session:
        bank = bank_by_name(session, bank_name)
        added = insert_videos(session, bank.id, videos.records, source=source)
        present = len(videos.records) - added
        record_bank_change(
            session,
            actor,
            BankAction.IMPORT,
            bank_name,
            {
                "source": source,
                "format": VPDQ,
                "added": added,
                "already_present": present,
                "bad": videos.bad_count,
            },
        )
    return ImportReport(bank_name, added, present, videos.bad_count, videos.bad)


def import_video_file(
    database: Database, bank_name: str, path: Path, *, actor: str = SYSTEM
) -> ImportReport:
    """Import a vPDQ list file, or every file of a directory of them (one video each, as
    Meta's tool writes them: the file's stem is the video's external id)."""
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    videos = VideoList()
    for file in files:
        found = read_video_list(_read_text(file), name=file.stem)
        videos.records += found.records
        for bad in found.bad:
            videos.reject(bad.line, f"{file.name}: {bad.reason}" if path.is_dir() else bad.reason)
        videos.bad_count += found.bad_count - len(found.bad)
    return import_videos(database, bank_name, videos, source=f"file:{path.name}", actor=actor)


def add_video_indicator(
    database: Database,
    bank_name: str,
    frames: Sequence[VpdqFrame],
    *,
    external_id: str | None = None,
    source: str | None = None,
) -> int:
    """Bank one video's frames (or find it there); return its indicator id."""
    if not frames:
        raise InvalidHash("a vPDQ hash has at least one frame")
    with database.unit_of_work() as session:
        bank = bank_by_name(session, bank_name)
        insert_videos(session, bank.id, [VideoRecord(tuple(frames), external_id)], source=source)
        ident = session.scalar(
            select(Indicator.id).where(
                Indicator.bank_id == bank.id,
                Indicator.signal_type == VPDQ,
                Indicator.value == video_key(frames),
            )
        )
        assert ident is not None
        return int(ident)


# -- reading banks ----------------------------------------------------------------------------


def video_frames(
    session: Session, indicator_ids: Sequence[int]
) -> dict[int, tuple[VpdqFrame, ...]]:
    """The frames of these video indicators (those that have them), by indicator id."""
    out: dict[int, tuple[VpdqFrame, ...]] = {}
    ids = sorted(set(indicator_ids))
    for start in range(0, len(ids), 900):
        rows = session.execute(
            select(VideoIndicator.indicator_id, VideoIndicator.frames).where(
                VideoIndicator.indicator_id.in_(ids[start : start + 900])
            )
        )
        for ident, text in rows:
            try:
                out[int(ident)] = parse_vpdq(text)
            except InvalidHash:
                continue  # changed behind Tutela's back: the video is not matched
    return out


def get_video_frames(database: Database, indicator_id: int) -> tuple[VpdqFrame, ...]:
    with database.reader() as session:
        found = video_frames(session, [indicator_id])
    if indicator_id not in found:
        raise NotFound(f"no video indicator with id {indicator_id}")
    return found[indicator_id]


def _read_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_LIST_BYTES:
            raise InvalidInput(f"{path.name} is over {MAX_LIST_BYTES} bytes")
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise NotFound(f"no such file: {path}") from None
    except UnicodeDecodeError:
        raise Unreadable(f"{path} is not UTF-8 text") from None
    except OSError as error:
        raise Unreadable(f"cannot read {path}: {error.strerror or type(error).__name__}") from None
