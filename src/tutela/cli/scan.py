"""`tutela scan DIR | --list FILE`: decide a backlog of files through the detection pipeline."""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from tutela.cli.app import app, load_settings, print_json, stderr_is_terminal
from tutela.cli.db import opened_database
from tutela.cli.progress import progress_bar
from tutela.detection.backlog import ScanResult, scan_paths
from tutela.detection.hasher import Hasher
from tutela.errors import InvalidInput
from tutela.indicators.matcher import Matcher

VERDICTS = ("no_match", "review", "action", "error")


@app.command("scan")
def scan_command(
    directory: Annotated[
        Path | None, typer.Argument(help="A directory to scan (recursively).")
    ] = None,
    file_list: Annotated[
        Path | None, typer.Option("--list", help="A file with one path per line.")
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
) -> None:
    """Match a backlog against every bank; files already decided are skipped on a re-run.

    Each file gets one verdict (no_match, review, action, error) and, for review or action, a
    case. A summary table of verdicts ends the output. With no order or voluntary basis for
    the service, every file is no_match (not_under_order), unread.
    """
    if (directory is None) == (file_list is None):
        raise InvalidInput("give a directory or --list FILE, not both")
    if directory is not None:
        paths = _walk(directory)
    else:
        assert file_list is not None
        lines = file_list.read_text().splitlines()
        paths = [line.strip() for line in lines if line.strip()]
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


def _walk(directory: Path) -> list[str]:
    found = []
    for root, dirs, names in os.walk(directory):
        dirs.sort()
        found += [os.path.join(root, name) for name in sorted(names)]
    return found


def _emit(result: ScanResult, json_lines: bool) -> None:
    if json_lines:
        print_json(result.as_dict())
        return
    item = result.item
    note = " (already scanned)" if result.skipped else ""
    code = f" {item.error['code']}" if item.error else ""
    case = f" case {item.case_id}" if item.case_id else ""
    reason = f" {item.reason}" if item.reason else ""
    sys.stdout.write(f"{item.verdict or '-':<9}{code}{reason}{case}  {result.path}{note}\n")


def _summary(counts: Counter[str], skipped: int, json_lines: bool) -> None:
    if json_lines:
        print_json({"summary": {v: counts[v] for v in VERDICTS}, "skipped": skipped})
        return
    sys.stdout.write(f"\n{'verdict':<10}{'files':>8}\n")
    for verdict in VERDICTS:
        sys.stdout.write(f"{verdict:<10}{counts[verdict]:>8}\n")
    sys.stdout.write(f"{'total':<10}{sum(counts.values()):>8}  ({skipped} already scanned)\n")
