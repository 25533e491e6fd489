"""`tutela scan SOURCE…`: decide a backlog of files (directories, list files of paths or URLs, s3://
prefixes) through the detection pipeline, on the local cores or a Ray cluster."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, TextIO

import typer

from tutela.cli.app import app, load_settings, stderr_is_terminal
from tutela.cli.db import opened_database
from tutela.cli.progress import progress_bar
from tutela.db.database import Database
from tutela.detection.backlog import ScanResult, scan_paths
from tutela.detection.hasher import Hasher
from tutela.detection.object_storage import PAGE_KEYS
from tutela.detection.remote_scan import BATCH, SCAN_SPOOL, scan_fetched
from tutela.detection.scan_batches import ScanProgress
from tutela.detection.scan_sources import ListedFile, Shard, Sources, look_at, path_of
from tutela.detection.source_files import SourceAccess, SourceReader, is_url
from tutela.indicators.matcher import Matcher

VERDICTS = ("no_match", "review", "action", "error")
PROGRESS_EVERY_S = 2.0


@app.command("scan")
def scan_command(
    sources: Annotated[
        list[str] | None,
        typer.Argument(
            help="Directories to scan (recursively), list files (one path, file://, http(s):// or "
            "s3:// URL a line) and s3://bucket/prefix of S3-compatible storage (TUTELA_S3_*).",
            show_default=False,
        ),
    ] = None,
    file_list: Annotated[
        list[Path] | None, typer.Option("--list", help="A file with one path or URL per line.")
    ] = None,
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", min=1, help="Hashing processes (default: cores).")
    ] = None,
    service: Annotated[
        str | None,
        typer.Option(
            "--service",
            help="The service part the files are of; they are matched only under a detection "
            "order or voluntary basis covering it (`tutela detection basis list`).",
        ),
    ] = None,
    ray: Annotated[
        bool,
        typer.Option(
            "--ray",
            help="Scan on a Ray cluster: `--ray ADDRESS SOURCE…` (host:port, ray://host:port or "
            "auto as the first argument) joins one; `--ray SOURCE…` starts one on this machine "
            "with --jobs CPUs.",
        ),
    ] = False,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            metavar="K/N",
            help="Scan only share K of N (by a hash of each file's absolute path or URL): N "
            "drivers given the same sources, each its own K, split a backlog between them.",
        ),
    ] = None,
    show_progress: Annotated[
        bool,
        typer.Option(
            "--progress",
            help="Progress lines on stderr (items/s, ETA, errors by code) even when it is not "
            "a terminal.",
        ),
    ] = False,
) -> None:
    """Match a backlog of images and videos against every bank; files already decided are
    skipped on a re-run.

    Each file gets one verdict (no_match, review, action, error) and, for review or action, a
    case. A video (known by its first bytes) is matched as video uploads are: vPDQ against
    video banks, each sampled frame against image banks, the matched frames' times in its
    matches. A summary table of verdicts ends the output. With no order or voluntary basis for
    the service, every file is no_match (not_under_order), unread. With --ray, the files are
    hashed and matched in Ray tasks on every node of the cluster and recorded here in batches.
    Past what one driver records (about 2,000 files a second), run several, each with its own
    --shard K/N of the same sources, on one or several machines against the same database.
    """
    given = list(sources or [])
    share = Shard.parse(shard) if shard is not None else Shard()
    if ray:
        address = _address(given)
        listed = Sources.of(given, file_list or (), share)
        _ray_scan(listed, address, jobs, service, json_lines, show_progress)
        return
    listed = Sources.of(given, file_list or (), share)
    lines = list(listed.lines())
    # Listed URLs are fetched and hashed after the local files (tutela.detection.remote_scan).
    fetched = [look_at(line) for line in lines if is_url(line)]
    paths = [path_of(line) for line in lines if not is_url(line)]
    settings = load_settings()
    counts: Counter[str] = Counter()
    skipped = 0
    files = len(paths) + len(fetched) + (PAGE_KEYS if listed.prefixes else 0)
    workers = min(jobs or os.cpu_count() or 1, max(1, files))
    with (
        opened_database() as database,
        progress_bar(len(paths), "scanning", enabled=stderr_is_terminal()) as advance,
        Hasher(settings.media, workers=workers) as hasher,
    ):
        matcher = Matcher(database)
        matcher.load()
        scanned = scan_paths(
            database,
            matcher,
            hasher,
            paths,
            settings.media,
            service=service,
            video_workers=workers,
        )
        for result in scanned:
            advance()
            counts[result.item.verdict or "error"] += 1
            skipped += result.skipped
            _emit(result, json_lines)
        if fetched or listed.prefixes:
            for result in _scan_fetched(database, matcher, hasher, listed, fetched, service):
                counts[result.item.verdict or "error"] += 1
                skipped += result.skipped
                _emit(result, json_lines)
    _summary(counts, skipped, json_lines)


def _scan_fetched(
    database: Database,
    matcher: Matcher,
    hasher: Hasher,
    sources: Sources,
    fetched: list[ListedFile],
    service: str | None,
) -> Iterator[ScanResult]:
    """The listed URLs, then the objects under the s3:// prefixes, on the local cores."""
    settings = load_settings()
    with SourceReader(SourceAccess.of(settings)) as reader:
        batches = itertools.chain(
            (fetched[i : i + BATCH] for i in range(0, len(fetched), BATCH)),
            sources.objects(reader.s3()),
        )
        spool = settings.data_dir / SCAN_SPOOL
        yield from scan_fetched(
            database, matcher, hasher, reader, batches, settings.media, spool, service=service
        )


def _address(given: list[str]) -> str | None:
    """The Ray address of `--ray ADDRESS SOURCE…`, taken off `given`; None (`--ray SOURCE…`) when
    the first argument is a path that exists or does not read as an address."""
    if not given or Path(given[0]).exists():
        return None
    first = given[0]
    host, _, port = first.rpartition(":")
    if first == "auto" or first.startswith("ray://") or (host and port.isdigit()):
        given.pop(0)
        return first
    return None


def _ray_scan(
    sources: Sources,
    address: str | None,
    jobs: int | None,
    service: str | None,
    json_lines: bool,
    show_progress: bool,
) -> None:
    """The scan on Ray: the summary adds items/s, errors by code, and files left undecided
    (a task lost with its node more often than retried: exit status 1, re-run to finish)."""
    from tutela.detection.ray_scan import RayScan, connect

    settings = load_settings()
    out = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        started = connect(address, cpus=jobs)
        try:
            with opened_database() as database:
                scan = RayScan(database, settings, sources, service=service)
                report = _Reporter(scan.progress, show_progress or stderr_is_terminal())
                for result in scan.results():
                    _emit(result, json_lines, out)
                    report.tick()
                report.done()
        finally:
            if started:
                import ray as ray_api

                ray_api.shutdown()
    progress = scan.progress
    _summary(progress.verdicts, progress.skipped, json_lines, extra=progress.as_dict(), out=out)
    if progress.undecided:
        raise typer.Exit(1)


class _Reporter:
    """Progress lines on stderr at most every PROGRESS_EVERY_S (rewritten in place on a
    terminal)."""

    def __init__(self, progress: ScanProgress, enabled: bool) -> None:
        self._progress = progress
        self._enabled = enabled
        self._terminal = stderr_is_terminal()
        self._last = time.monotonic()

    def tick(self) -> None:
        if self._enabled and time.monotonic() - self._last >= PROGRESS_EVERY_S:
            self._last = time.monotonic()
            self._write()

    def done(self) -> None:
        if self._enabled:
            self._write()
            if self._terminal:
                sys.stderr.write("\n")

    def _write(self) -> None:
        line = self._progress.line()
        sys.stderr.write(f"\r{line}\x1b[K" if self._terminal else f"{line}\n")
        sys.stderr.flush()


def _emit(result: ScanResult, json_lines: bool, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    if json_lines:
        _write_json(out, result.as_dict())
        return
    item = result.item
    note = " (already scanned)" if result.skipped else ""
    code = f" {item.error['code']}" if item.error else ""
    case = f" case {item.case_id}" if item.case_id else ""
    reason = f" {item.reason}" if item.reason else ""
    out.write(f"{item.verdict or '-':<9}{code}{reason}{case}  {result.path}{note}\n")


def _summary(
    counts: Counter[str],
    skipped: int,
    json_lines: bool,
    *,
    extra: dict[str, object] | None = None,
    out: TextIO | None = None,
) -> None:
    out = out or sys.stdout
    if json_lines:
        summary = {"summary": {v: counts[v] for v in VERDICTS}, "skipped": skipped}
        _write_json(out, {**summary, **(extra or {})})
        return
    out.write(f"\n{'verdict':<10}{'files':>8}\n")
    for verdict in VERDICTS:
        out.write(f"{verdict:<10}{counts[verdict]:>8}\n")
    out.write(f"{'total':<10}{sum(counts.values()):>8}  ({skipped} already scanned)\n")
    if extra is not None:
        errors = extra.get("errors") or {}
        assert isinstance(errors, dict)
        codes = ", ".join(f"{code} {n}" for code, n in errors.items()) or "none"
        out.write(f"{extra['items_per_s']} items/s over {extra['seconds']} s; errors: {codes}\n")
        if extra.get("undecided"):
            out.write(f"{extra['undecided']} files left undecided (a Ray node lost): run again\n")


def _write_json(out: TextIO, obj: dict[str, object]) -> None:
    """As print_json, to `out` (a Ray scan's own stdout: Ray's driver prints its cluster
    events to sys.stdout, which the scan sends to stderr meanwhile)."""
    out.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n")
