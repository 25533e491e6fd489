"""The Matcher's snapshot on disk: its indices and entry table as of one change sequence number, so
that a process starts by mapping files and replaying the changes since, not reading every row.

    <data dir>/matcher-snapshot/
      manifest.json      format, sequence number, database identity, bank rules, file checksums
      entries.idx        indicator id → bank id and signal type; indicators disabled until a time;
                         PDQ indicators' variants (names and codes)
      pdq.idx            the PDQ multi-index (PdqIndex's own format, memory-mapped on load)
      exact-<type>.idx   one ExactIndex per exact signal type

A snapshot is written into a temporary directory and renamed into place under an exclusive lock;
readers hold a shared lock while they check and map it. A snapshot is only used by the database it
was made from: the manifest names the change rows at its sequence number and at the start, to the
microsecond, and the reader compares them with the database's own. Each file's checksum is
checked before it is used, once per machine: `matcher-snapshot.verified` beside the directory
notes the files checked (by inode, size and times), so later starts map them without reading them.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

import tutela
from tutela.clock import utc_now
from tutela.errors import InvalidInput, Unreadable
from tutela.indicators.matcher_entries import BankRule, EntryTable
from tutela.indicators.matcher_rows import VPDQ_KEY_TYPE
from tutela.indicators.matcher_variants import VariantSet, pack, unpack
from tutela.indicators.models import IndicatorChange
from tutela.matching import ExactIndex, PdqIndex
from tutela.matching.snapshot import read_snapshot, write_snapshot
from tutela.signals.registry import signal_types

DIRECTORY_NAME: Final = "matcher-snapshot"
# Raise when the layout or the meaning of any file changes; older snapshots are then ignored,
# and a node's snapshot keeper, reading no usable sequence number, writes a new one. 2: the PDQ
# index's tables of 2-33 M codes have wide entries (pdq.idx version 2).
FORMAT: Final = 2
MANIFEST: Final = "manifest.json"
_KIND: Final = "tutela-matcher-snapshot"
_ENTRIES: Final = "entries.idx"
_PDQ: Final = "pdq.idx"
_ENTRIES_MAGIC: Final = b"TUTMENTR"
_ENTRIES_VERSION: Final = 1
_SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
# A temporary directory this old was left by a writer that died; younger ones may be in use.
_STALE_AFTER = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Beside the snapshot directory: the files whose checksums this machine has verified.
_STAMP_SUFFIX: Final = ".verified"
_SETTLED_NS: Final = 2_000_000_000


@dataclass
class MatcherState:
    """Everything a Matcher holds, as of change `seq`."""

    seq: int
    rules: dict[int, BankRule]
    entries: EntryTable
    waiting: dict[int, datetime]
    pdq: PdqIndex
    exact: dict[str, ExactIndex]
    # Codes in `pdq` that are video indicators' frames (several per id; their frames are read
    # from the database when the snapshot is loaded).
    video_codes: int = 0
    # PDQ indicators' variants by id (their codes, beyond each one's own, are in `pdq` too).
    variants: dict[int, VariantSet] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    directory: Path
    seq: int
    indicators: int
    size_bytes: int

    def as_dict(self) -> dict[str, object]:
        return {
            "directory": str(self.directory),
            "seq": self.seq,
            "indicators": self.indicators,
            "bytes": self.size_bytes,
        }


def snapshot_directory(data_dir: Path) -> Path:
    return data_dir / DIRECTORY_NAME


def database_identity(session: Session, seq: int) -> dict[str, Any]:
    """What tells this database (and this history of it) from any other, as of change `seq`.

    The change rows at the start and at `seq`, with their times to the microsecond: another
    database, or a restored backup of this one that has since diverged, will not have both.
    """
    first = session.execute(
        select(IndicatorChange.seq, IndicatorChange.at).order_by(IndicatorChange.seq).limit(1)
    ).first()
    at_seq = session.execute(
        select(
            IndicatorChange.bank_id,
            IndicatorChange.indicator_id,
            IndicatorChange.op,
            IndicatorChange.at,
        ).where(IndicatorChange.seq == seq)
    ).first()
    return {
        "dialect": session.get_bind().dialect.name,
        "first_change": None if first is None else [first.seq, first.at.isoformat()],
        "change": None
        if at_seq is None
        else [seq, at_seq.bank_id, at_seq.indicator_id, at_seq.op, at_seq.at.isoformat()],
    }


def write_matcher_snapshot(
    directory: Path, state: MatcherState, identity: dict[str, Any]
) -> SnapshotInfo:
    """Write the state atomically: readers see the old snapshot or the new one, never a mix."""
    parent = directory.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fresh = Path(tempfile.mkdtemp(prefix=f"{directory.name}.tmp-", dir=parent))
        # mkdtemp makes it private to this user; the processes that read it may run as another,
        # so it opens to whoever may read the data directory.
        os.chmod(fresh, parent.stat().st_mode & 0o777)
    except OSError as error:
        raise Unreadable(
            f"cannot write the matcher snapshot in {parent}: {error.strerror}"
        ) from None
    try:
        _write_files(fresh, state, identity)
        with _locked(directory, exclusive=True):
            _swap_into_place(fresh, directory)
    except OSError as error:
        shutil.rmtree(fresh, ignore_errors=True)
        raise Unreadable(
            f"cannot write the matcher snapshot in {parent}: {error.strerror or error}"
        ) from None
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    size = sum(path.stat().st_size for path in directory.iterdir())
    return SnapshotInfo(directory, state.seq, len(state.entries), size)


def snapshot_seq(directory: Path) -> int | None:
    """The change a snapshot was made as of, from its manifest alone (cheap: nothing else is
    read or checked); None when there is none, or none readable."""
    if not (directory / MANIFEST).is_file():
        return None
    try:
        with _locked(directory, exclusive=False):
            return int(_read_manifest(directory / MANIFEST)["seq"])
    except (OSError, Unreadable):
        return None


def read_matcher_snapshot(directory: Path, session: Session) -> MatcherState | None:
    """The state a snapshot holds; None when there is none; Unreadable when it cannot be used
    (damaged, another format, another database)."""
    if not (directory / MANIFEST).is_file():
        return None
    with _locked(directory, exclusive=False):
        try:
            manifest = _read_manifest(directory / MANIFEST)
            if manifest["database"] != database_identity(session, manifest["seq"]):
                raise Unreadable("it was made from another database, or another history of it")
            _check_files(directory, manifest["files"])
            return _read_state(directory, manifest)
        except Unreadable:
            raise
        except (InvalidInput, ValueError, KeyError, TypeError, IndexError) as error:
            raise Unreadable(str(getattr(error, "message", error))) from None
        except OSError as error:
            raise Unreadable(f"cannot read it ({error.strerror or error})") from None


# -- writing --------------------------------------------------------------------------------------


def _write_files(target: Path, state: MatcherState, identity: dict[str, Any]) -> None:
    banks, types = state.entries.arrays()
    waiting_ids = sorted(state.waiting)
    variant_names, variant_arrays = pack(state.variants)
    write_snapshot(
        target / _ENTRIES,
        _ENTRIES_MAGIC,
        _ENTRIES_VERSION,
        {"signal_types": state.entries.type_names, "variant_names": variant_names},
        variant_arrays
        | {
            "banks": banks,
            "types": types,
            "waiting_ids": np.array(waiting_ids, np.int64),
            "waiting_until": np.array(
                [_micros(state.waiting[ident]) for ident in waiting_ids], np.int64
            ),
        },
    )
    state.pdq.save(target / _PDQ)
    for signal_type, index in sorted(state.exact.items()):
        index.save(target / _exact_file(signal_type))
    files = {
        path.name: {"bytes": path.stat().st_size, "sha256": _sha256(path)}
        for path in sorted(target.iterdir())
    }
    manifest = {
        "kind": _KIND,
        "format": FORMAT,
        "tutela": tutela.__version__,
        "written_at": utc_now().isoformat(),
        "seq": state.seq,
        "database": identity,
        "indicators": len(state.entries),
        # For reading the snapshot back only: the Matcher re-reads every bank's rule afresh.
        "rules": {
            str(bank_id): [rule.name, rule.pdq_threshold, rule.review_distance]
            for bank_id, rule in sorted(state.rules.items())
        },
        "exact": sorted(state.exact),
        "video_codes": state.video_codes,
        "variant_codes": _variant_codes(state.variants),
        "files": files,
    }
    with open(target / MANIFEST, "w", encoding="utf-8") as out:
        json.dump(manifest, out, indent=1, sort_keys=True)
        out.flush()
        os.fsync(out.fileno())
    _fsync_directory(target)


def _swap_into_place(fresh: Path, directory: Path) -> None:
    """Rename the fresh directory over the old one (two renames: POSIX will not replace a
    non-empty directory); processes that mapped the old files keep them until they close."""
    _remove_leftovers(directory)
    old: Path | None = None
    if directory.exists():
        old = directory.with_name(f"{directory.name}.old-{uuid.uuid4().hex[:12]}")
        os.rename(directory, old)
    os.rename(fresh, directory)
    _fsync_directory(directory.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _remove_leftovers(directory: Path) -> None:
    """Directories a writer that died left behind (called under the exclusive lock)."""
    cutoff = time.time() - _STALE_AFTER.total_seconds()
    for path in directory.parent.glob(f"{directory.name}.*-*"):
        kind = path.name[len(directory.name) + 1 :].split("-", 1)[0]
        with suppress(OSError):
            if kind == "old" or (kind == "tmp" and path.stat().st_mtime < cutoff):
                shutil.rmtree(path)


def _exact_file(signal_type: str) -> str:
    if not _SAFE_NAME.match(signal_type):
        raise InvalidInput(f"signal type {signal_type!r} cannot name a snapshot file")
    return f"exact-{signal_type}.idx"


# -- reading --------------------------------------------------------------------------------------


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Unreadable("its manifest is not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("kind") != _KIND:
        raise Unreadable("its manifest is not a matcher snapshot's")
    if manifest.get("format") != FORMAT:
        raise Unreadable(f"it has format {manifest.get('format')!r}; this build reads {FORMAT}")
    seq = manifest.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 1 << 63:
        raise Unreadable("its manifest has no valid sequence number")
    files = manifest.get("files")
    exact = manifest.get("exact")
    if not isinstance(files, dict) or not isinstance(exact, list):
        raise Unreadable("its manifest lists no files")
    expected = {MANIFEST, _ENTRIES, _PDQ, *(_exact_file(str(name)) for name in exact)}
    if set(files) | {MANIFEST} != expected:
        raise Unreadable("its manifest lists other files than the snapshot has")
    return manifest


def _check_files(directory: Path, files: dict[str, Any]) -> None:
    """Each file against the manifest's checksum, except those this machine has verified already
    (the stamp beside the directory names them: the same manifest, each file the same inode,
    size and times). Reading a 10 M-indicator snapshot whole to check it took about a second of
    CPU at every start, and on a cold page cache every page from disk before the first lookup;
    verified once, a process maps the files and reads only the pages its lookups touch."""
    stamp = directory.with_name(f"{directory.name}{_STAMP_SUFFIX}")
    manifest_sha256 = _sha256(directory / MANIFEST)
    trusted = _read_stamp(stamp, manifest_sha256)
    now_ns = time.time_ns()
    settled: dict[str, list[int]] = {}
    for name, expected in sorted(files.items()):
        path = directory / name
        identity = _identity(path)
        if trusted.get(name) != identity:
            _check_file(path, expected)
        # Trusted later only when last written well before this check: a rewrite in place after
        # it then shows in the file's times, however coarse the file system's clock.
        if identity[3] < now_ns - _SETTLED_NS:
            settled[name] = identity
    if settled and settled != trusted:
        _write_stamp(stamp, manifest_sha256, settled)


def _identity(path: Path) -> list[int]:
    status = path.stat()
    return [status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns]


def _read_stamp(stamp: Path, manifest_sha256: str) -> dict[str, list[int]]:
    """The files the stamp vouches for, by name; none when it is missing, unreadable or made for
    another manifest."""
    try:
        found = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    if not isinstance(found, dict) or found.get("manifest_sha256") != manifest_sha256:
        return {}
    files = found.get("files")
    if not isinstance(files, dict):
        return {}
    return {
        str(name): identity
        for name, identity in files.items()
        if isinstance(identity, list) and all(type(part) is int for part in identity)
    }


def _write_stamp(stamp: Path, manifest_sha256: str, files: dict[str, list[int]]) -> None:
    """Best effort (a read-only data directory has none: every start then checks every file)."""
    temporary = stamp.with_name(f"{stamp.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        temporary.write_text(
            json.dumps({"manifest_sha256": manifest_sha256, "files": files}), encoding="utf-8"
        )
        os.replace(temporary, stamp)
    except OSError:
        with suppress(OSError):
            temporary.unlink()


def _check_file(path: Path, expected: Any) -> None:
    if not isinstance(expected, dict):
        raise Unreadable("its manifest is malformed")
    if path.stat().st_size != expected.get("bytes") or _sha256(path) != expected.get("sha256"):
        raise Unreadable(f"{path.name} is damaged (its checksum differs from the manifest's)")


def _read_state(directory: Path, manifest: dict[str, Any]) -> MatcherState:
    meta, arrays = read_snapshot(directory / _ENTRIES, _ENTRIES_MAGIC, _ENTRIES_VERSION, mmap=False)
    type_names = [str(name) for name in meta["signal_types"]]
    unknown = set(type_names) - set(signal_types()) - {VPDQ_KEY_TYPE}
    if unknown:
        raise Unreadable(f"it holds signal types this node does not know: {sorted(unknown)}")
    entries = EntryTable.from_arrays(arrays["banks"], arrays["types"], type_names)
    waiting_ids, until = arrays["waiting_ids"], arrays["waiting_until"]
    if waiting_ids.shape != until.shape:
        raise Unreadable("its list of disabled indicators is damaged")
    waiting = {
        int(ident): _EPOCH + timedelta(microseconds=int(micros))
        for ident, micros in zip(waiting_ids.tolist(), until.tolist(), strict=True)
    }
    rules = {
        int(bank_id): BankRule(str(name), int(threshold), None if review is None else int(review))
        for bank_id, (name, threshold, review) in manifest["rules"].items()
    }
    pdq = PdqIndex.load(directory / _PDQ)
    exact = {
        str(name): ExactIndex.load(directory / _exact_file(name)) for name in manifest["exact"]
    }
    # The pieces must agree with each other, or an index hit could not become a result.
    if not entries.bank_ids() <= set(rules):
        raise Unreadable("its entry table names banks its manifest does not")
    counts = entries.counts_by_type()
    video_codes = manifest.get("video_codes", 0)
    if isinstance(video_codes, bool) or not isinstance(video_codes, int) or video_codes < 0:
        raise Unreadable("its manifest has no valid count of video frames")
    variants = unpack([str(n) for n in meta.get("variant_names", [])], arrays)
    variant_codes = manifest.get("variant_codes", 0)
    if variant_codes != _variant_codes(variants) or any(
        entries.signal_type_of(ident) != "pdq" for ident in variants
    ):
        raise Unreadable("its indicator variants and its entry table disagree")
    pdq_codes = len(pdq) - video_codes - variant_codes
    sizes = {name: len(index) for name, index in exact.items()} | {"pdq": pdq_codes}
    # Each video indicator has one code at least; how many exactly is checked against its frames.
    sizes[VPDQ_KEY_TYPE] = counts.get(VPDQ_KEY_TYPE, 0)
    if sizes[VPDQ_KEY_TYPE] > video_codes:
        raise Unreadable("its indices and its entry table disagree")
    if any(counts.get(name, 0) != size for name, size in sizes.items()) or any(
        count and name not in sizes for name, count in counts.items()
    ):
        raise Unreadable("its indices and its entry table disagree")
    if len(entries) != manifest["indicators"]:
        raise Unreadable("its entry table holds another number of indicators than the manifest")
    return MatcherState(manifest["seq"], rules, entries, waiting, pdq, exact, video_codes, variants)


def _variant_codes(variants: dict[int, VariantSet]) -> int:
    """Codes in the PDQ index that are variants (each set's own hash is the indicator's)."""
    return sum(len(found) - 1 for found in variants.values())


# -- files ----------------------------------------------------------------------------------------


@contextmanager
def _locked(directory: Path, *, exclusive: bool) -> Iterator[None]:
    """A lock beside the snapshot directory: writers swap it exclusively, readers share it.

    A reader in a read-only data directory goes without (there is no writer there either).
    """
    path = directory.with_name(f"{directory.name}.lock")
    try:
        # A shared lock needs only a descriptor open for reading, so a reader running as another
        # user than the writer can take it.
        handle = open(path, "a+b" if exclusive or not path.exists() else "rb")  # noqa: SIM115
    except OSError:
        if exclusive:
            raise
        yield
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        handle.close()  # releases the lock


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)
