"""`tutela hash PATH…`: signals of files and directories, in isolated worker processes.

This process only lists files, hands them to the workers and prints what comes back (plain data:
tutela.signals.file_summary): it never imports numpy, Pillow or the hashers, which the workers
import while it lists the files (tests/test_cli_startup.py checks this).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from tutela.cli.app import app, load_settings, print_json, stderr_is_terminal
from tutela.cli.progress import progress_bar
from tutela.errors import TutelaError, Unreadable
from tutela.media.formats import is_video_file
from tutela.media.isolation import IsolatedPool
from tutela.media.limits import MediaLimits
from tutela.signals.file_summary import HASHING_MODULE, FileSummary, summarise_file


@app.command("hash")
def hash_command(
    paths: Annotated[
        list[Path], typer.Argument(help="Files or directories (searched recursively).")
    ],
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    exact: Annotated[
        bool, typer.Option("--exact", help="Full-resolution PDQ, bit for bit Meta's reference.")
    ] = False,
    dihedral: Annotated[
        bool, typer.Option("--dihedral", help="Also print the eight rotated/flipped PDQ hashes.")
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Worker processes (default: all cores)."),
    ] = None,
    vpdq_dir: Annotated[
        Path | None,
        typer.Option(
            "--vpdq-dir",
            help="Also write each video's vPDQ to DIR/NAME.txt in Meta's vPDQ hash-file form.",
        ),
    ] = None,
) -> None:
    """Hash images and videos: PDQ (perceptual) or vPDQ, and MD5, SHA-1, SHA-256 of the bytes.

    With --vpdq-dir, each video's vPDQ is also written as Meta's tools write hash files (one
    `frame,quality,pdq_hex,seconds` line per frame), named after the video (`clip.mp4.txt`);
    `tutela bank import BANK DIR` banks such a directory.
    Exit code 0 when every file hashed, 1 when some failed (their lines carry the error).
    """
    settings = load_settings()
    files = list(_expand(paths))
    hash_files = _VpdqFiles(vpdq_dir) if vpdq_dir is not None else None
    task = functools.partial(summarise_file, exact=exact, dihedral=dihedral, limits=settings.media)
    workers = min(jobs or os.cpu_count() or 1, max(1, len(files)))
    failed = 0
    if not json_lines:
        sys.stdout.write(f"{'quality':>7}  {'pdq':<64}  path\n")
    with (
        progress_bar(len(files), "hashing", enabled=stderr_is_terminal()) as advance,
        IsolatedPool(
            task,
            workers=workers,
            limits=settings.media,
            timeout_of=functools.partial(_time_limit, limits=settings.media),
            preload=(HASHING_MODULE,),
            fork=True,  # this process runs no thread; a fork starts far faster than a spawn
        ) as pool,
    ):
        for path, result in pool.map_unordered(files):
            advance()
            failed += _emit(path, result, json_lines)
            if hash_files is not None and isinstance(result, FileSummary) and result.vpdq_lines:
                hash_files.write(path, result.vpdq_lines)
    if failed:
        raise typer.Exit(1)


class _VpdqFiles:
    """Where --vpdq-dir writes: DIR/NAME.txt per video, NAME the video's file name; a second
    video of the same name gets NAME.2.txt, and so on (the directory is created when missing)."""

    def __init__(self, directory: Path) -> None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise Unreadable(f"cannot write to {directory}: {error.strerror}") from None
        self.directory = directory
        self.used: set[str] = set()

    def write(self, path: str, lines: str) -> None:
        name = os.path.basename(path)
        stem, copy = name, 1
        while name in self.used:
            copy += 1
            name = f"{stem}.{copy}"
        self.used.add(name)
        target = self.directory / f"{name}.txt"
        try:
            target.write_text(lines, encoding="ascii")
        except OSError as error:
            raise Unreadable(f"cannot write {target}: {error.strerror}") from None


def _expand(paths: list[Path]) -> Iterator[str]:
    for path in paths:
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs.sort()
                for name in sorted(names):
                    yield os.path.join(root, name)
        else:
            yield str(path)


def _time_limit(path: str, limits: MediaLimits) -> float:
    """A video may take its own, longer time to decode than a photo."""
    return limits.video_timeout_s if is_video_file(path) else limits.decode_timeout_s


def _emit(path: str, result: FileSummary | TutelaError, json_lines: bool) -> int:
    """Print one file's line; return 1 when it failed."""
    hashed = isinstance(result, FileSummary) and result.error is None
    if (
        isinstance(result, FileSummary)
        and hashed
        and (result.pdq or result.video_frames is not None)
    ):
        if json_lines:
            print_json(
                {"path": path, "content_type": result.content_type, "signals": result.signals}
            )
        elif result.pdq is not None:
            sys.stdout.write(f"{result.quality:>7}  {result.pdq}  {path}\n")
        else:
            sha256 = result.signals["sha256"]
            summary = f"video: {result.video_frames} frames (vPDQ), sha256 {sha256}"
            sys.stdout.write(f"{'-':>7}  {summary:<64}  {path}\n")
        return 0
    error = result.error if isinstance(result, FileSummary) else result
    assert error is not None
    line: dict[str, object] = {"path": path, "error": error.as_dict()}
    if isinstance(result, FileSummary):
        line["signals"] = result.signals
    if json_lines:
        print_json(line)
    else:
        sys.stdout.write(f"{'-':>7}  {'error: ' + error.code:<64}  {path}: {error.message}\n")
    return 1
