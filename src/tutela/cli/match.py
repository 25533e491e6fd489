"""`tutela match`: files, hashes or a list of hashes against every enabled bank."""

from __future__ import annotations

import functools
import os
import sys
from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any

import typer

from tutela.cli.app import app, load_settings, print_json, stderr_is_terminal
from tutela.cli.db import opened_database
from tutela.cli.progress import progress_bar
from tutela.detection.video_items import video_matches
from tutela.errors import InvalidInput, TutelaError
from tutela.indicators.imports import open_list
from tutela.indicators.list_formats import ListFormat, ListReader
from tutela.indicators.matcher import CONFIRM_MARGIN, Matcher, MatchResult
from tutela.media.isolation import IsolatedPool
from tutela.media.limits import MediaLimits
from tutela.signals.hashing import MediaSignals, hash_file, is_video_file
from tutela.signals.pdq import PdqMode


@app.command("match")
def match_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Image and video files, or directories (searched recursively), to match."
        ),
    ] = None,
    hashes: Annotated[
        list[str] | None, typer.Option("--hash", help="A hash to match (repeatable).")
    ] = None,
    hash_file: Annotated[
        Path | None, typer.Option("--hash-file", help="A text list of hashes to match.")
    ] = None,
    signal_type: Annotated[
        str | None,
        typer.Option(
            help="Signal type of the hashes given (pdq, md5, sha1, sha256); without it a "
            "64-hex hash is matched as PDQ and as SHA-256."
        ),
    ] = None,
    review: Annotated[
        bool, typer.Option("--review", help="Also list PDQ matches in banks' review bands.")
    ] = False,
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", min=1, help="Worker processes for hashing.")
    ] = None,
) -> None:
    """Match files (PDQ with all eight rotations/flips, and MD5/SHA-1/SHA-256) or hashes.

    A video's sampled frames (vPDQ) are matched against banked videos, with vPDQ's shares and
    each bank's thresholds, and each frame against banked images; matches list the frames' times.

    A hash is matched as every signal type its length can be (64 hex: PDQ and SHA-256) unless
    --signal-type says which; each match names its signal type. Exit code 0 when every query
    ran, 1 when some could not (their lines carry the error).
    """
    if not (paths or hashes or hash_file):
        raise typer.BadParameter("give files, --hash or --hash-file")
    failed = 0
    if not json_lines:
        sys.stdout.write(f"{'bank':<24} {'indicator':>10} {'type':<6} {'dist':>4}  query\n")
    with opened_database() as database:
        matcher = Matcher(database)
        matcher.load()
        if hashes or hash_file:
            failed += _match_hashes(
                matcher, hashes or [], hash_file, signal_type, review, json_lines
            )
        if paths:
            failed += _match_files(matcher, paths, jobs, review, json_lines)
    if failed:
        raise typer.Exit(1)


def _match_hashes(
    matcher: Matcher,
    hashes: list[str],
    hash_file: Path | None,
    signal_type: str | None,
    review: bool,
    json_lines: bool,
) -> int:
    reader = ListReader(ListFormat.TEXT, signal_type, every_type=True)
    queries = [_candidates(record) for record in reader.records(hashes)]
    if reader.bad:
        raise InvalidInput(f"--hash {reader.bad[0].line}: {reader.bad[0].reason}")
    failed = 0
    if hash_file is not None:
        file_reader = ListReader(ListFormat.TEXT, signal_type, every_type=True)
        with open_list(hash_file) as handle:
            queries += [_candidates(record) for record in file_reader.records(handle)]
        for bad in file_reader.bad:
            _emit_error(f"{hash_file}:{bad.line}", InvalidInput(bad.reason), json_lines)
        failed += file_reader.bad_count
    by_type: dict[str, list[str]] = defaultdict(list)
    for candidates in queries:
        for kind, value in candidates:
            by_type[kind].append(value)
    found: dict[tuple[str, str], list[MatchResult]] = {}
    for kind, values in by_type.items():
        for value, results in zip(
            values, matcher.match_hashes(kind, values, include_review=review), strict=True
        ):
            found[(kind, value)] = results
    for candidates in queries:
        results = [match for pair in candidates for match in found[pair]]
        _emit(candidates[0][1], results, json_lines)
    return failed


def _candidates(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(signal type, value) for each type a query is matched as."""
    return list(record.get("candidates") or [(record["signal_type"], record["value"])])


def _match_files(
    matcher: Matcher, paths: list[Path], jobs: int | None, review: bool, json_lines: bool
) -> int:
    settings = load_settings()
    files = _files(paths)
    workers = min(jobs or os.cpu_count() or 1, max(1, len(files)))
    failed = 0
    # Files with a fast-mode candidate near a bank's threshold are hashed again, exactly.
    confirm: list[str] = []
    for mode in (PdqMode.FAST, PdqMode.EXACT):
        task = functools.partial(
            hash_file, mode=mode, limits=settings.media, dihedral=True, robust=matcher.robust
        )
        todo = files if mode is PdqMode.FAST else confirm
        if not todo:
            break
        with (
            progress_bar(len(todo), f"matching ({mode})", enabled=stderr_is_terminal()) as advance,
            IsolatedPool(
                task,
                workers=min(workers, len(todo)),
                limits=settings.media,
                timeout_of=functools.partial(_time_limit, limits=settings.media),
            ) as pool,
        ):
            for path, result in pool.map_unordered(todo):
                advance()
                if isinstance(result, TutelaError):
                    _emit_error(path, result, json_lines)
                    failed += 1
                    continue
                margin = CONFIRM_MARGIN if mode is PdqMode.FAST else 0
                found = _match_signals(matcher, result, review, margin)
                if found is None:
                    confirm.append(path)
                    continue
                # Bytes that are no usable media still have exact hashes, matched all the same;
                # the line carries the error and the command fails, as `tutela hash` does.
                _emit(path, found, json_lines, result.error)
                failed += result.error is not None
    return failed


def _time_limit(path: str, limits: MediaLimits) -> float:
    """A video may take its own, longer time to decode than a photo."""
    return limits.video_timeout_s if is_video_file(path) else limits.decode_timeout_s


def _files(paths: list[Path]) -> list[str]:
    """The files named, and those under the directories named, in a stable order."""
    files = []
    for path in paths:
        if not path.is_dir():
            files.append(str(path))
            continue
        for root, dirs, names in os.walk(path):
            dirs.sort()
            files += [os.path.join(root, name) for name in sorted(names)]
    return files


def _match_signals(
    matcher: Matcher, signals: MediaSignals, review: bool, margin: int = 0
) -> list[MatchResult] | None:
    """The file's matches; None when its fast PDQ is too near a threshold to decide."""
    if signals.content_type == "video":  # as uploads of videos are matched
        return video_matches(matcher, signals, include_review=review)
    results: list[MatchResult] = []
    # PDQ's quality rule (a featureless picture matches only very near, or not at all) is the
    # matcher's; exact hashes always count.
    if signals.pdq is not None:
        found = matcher.match_pdq(signals.pdq, include_review=review, margin=margin)
        if found is None:
            return None
        results += found
    for kind, value in (("md5", signals.md5), ("sha1", signals.sha1), ("sha256", signals.sha256)):
        results += matcher.match_hashes(kind, [value])[0]
    return results


def _emit(
    query: str, results: list[MatchResult], json_lines: bool, error: TutelaError | None = None
) -> None:
    if json_lines:
        line: dict[str, Any] = {"query": query, "matches": [r.as_dict() for r in results]}
        if error is not None:
            line["error"] = error.as_dict()
        print_json(line)
        return
    if error is not None:
        _emit_error(query, error, json_lines)
    elif not results:
        sys.stdout.write(f"{'-':<24} {'-':>10} {'-':<6} {'-':>4}  {query}\n")
    for result in results:
        sys.stdout.write(
            f"{result.bank:<24} {result.indicator_id:>10} {result.signal_type:<6} "
            f"{result.distance:>4}  {query}\n"
        )


def _emit_error(query: str, error: TutelaError, json_lines: bool) -> None:
    if json_lines:
        print_json({"query": query, "error": error.as_dict()})
    else:
        sys.stdout.write(f"{'error: ' + error.code:<47}  {query}: {error.message}\n")
