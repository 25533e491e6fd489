"""`tutela scan DIR | --list FILE`: decide a backlog of files through the detection pipeline."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, TextIO

import typer

from tutela.cli.app import app, load_settings, stderr_is_terminal
from tutela.cli.db import opened_database
from tutela.cli.progress import progress_bar
from tutela.detection.backlog import ScanResult, scan_paths
from tutela.detection.hasher import Hasher
from tutela.detection.scan_batches import ScanProgress
from tutela.detection.scan_sources import Sources, list_lines, path_of
from tutela.errors import InvalidInput
from tutela.indicators.matcher import Matcher

VERDICTS = ("no_match", "review", "action", "error")
PROGRESS_EVERY_S = 2.0


@app.command("scan")
def scan_command(
    sources: Annotated[
        list[str] | None,
        typer.Argument(
            help="Directories to scan (recursively) and list files (one path or file:// URL "
            "a line).",
            show_default=False,
        ),
    ] = None,
    file_list: Annotated[
        list[Path] | None, typer.Option("--list", help="A file with one path per line.")
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
    show_progress: Annotated[
        bool,
        typer.Option(
            "--progress",
            help="Progress lines on stderr (items/s, ETA, errors by code) even when it is not "
            "a terminal.",
        ),
    ] = False,
) -> None:
    """Match a backlog against every bank; files already decided are skipped on a re-run.

    Each file gets one verdict (no_match, review, action, error) and, for review or action, a
    case. A summary table of verdicts ends the output. With no order or voluntary basis for
    the service, every file is no_match (not_under_order), unread. With --ray, the files are
    hashed and matched in Ray tasks on every node of the cluster and recorded here in batches.
    """
    given = list(sources or [])
    if ray:
        address = _address(given)
        listed = Sources.of([Path(source) for source in given], file_list or ())
        _ray_scan(listed, address, jobs, service, json_lines, show_progress)
        return
    if bool(given) == bool(file_list) or len(given) > 1 or len(file_list or ()) > 1:
        raise InvalidInput("give a directory or --list FILE, not both")
    if given:
        paths = _walk(Path(given[0]))
    else:
        assert file_list is not None
        paths = [path_of(line) for line in list_lines(file_list[0])]
    settings = load_settings()
    counts: Counter[str] = Counter()
    skipped = 0
    workers = min(jobs or os.cpu_count() or 1, max(1, len(paths)))
    with (
        opened_database() as database,
        progress_bar(len(paths), "scanning", enabled=stderr_is_terminal()) as advance,
        Hasher(settings.media, workers=workers) as hasher,
    ):
        matcher = Matcher(database)
        matcher.load()
        for result in scan_paths(database, matcher, hasher, paths, settings.media, service=service):
            advance()
            counts[result.item.verdict or "error"] += 1
            skipped += result.skipped
            _emit(result, json_lines)
    _summary(counts, skipped, json_lines)


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


def _walk(directory: Path) -> list[str]:
    found = []
    for root, dirs, names in os.walk(directory):
        dirs.sort()
        found += [os.path.join(root, name) for name in sorted(names)]
    return found


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
