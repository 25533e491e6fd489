"""`tutela bank …`: create, list, show, switch, delete, import, export and fetch banks, and write
the matcher snapshot that every matching process starts from."""

from __future__ import annotations

import sys
import time
from contextlib import ExitStack
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TextIO

import typer

from tutela.cli.app import app, print_json, stderr_is_terminal
from tutela.cli.audit import operator_actor
from tutela.cli.db import opened_database
from tutela.cli.progress import progress_bar
from tutela.db import Database
from tutela.errors import InvalidInput, TutelaError, Unreadable
from tutela.indicators import banks, fetchers
from tutela.indicators.banks import BankView
from tutela.indicators.exports import export_indicators
from tutela.indicators.fetchers import FetchReport, ncmec_credentials, stopncii_credentials
from tutela.indicators.hash_lines import import_hash_lines, looks_like_hash_lines
from tutela.indicators.imports import count_lines, import_file
from tutela.indicators.list_formats import ListFormat
from tutela.indicators.matcher import Matcher, SnapshotInfo, count_matchable
from tutela.indicators.matcher_videos import (
    VPDQ_COMPARED_MATCH_PERCENT,
    VPDQ_QUERY_MATCH_PERCENT,
)
from tutela.indicators.video_banks import VPDQ, import_video_file, looks_like_video_list

bank_app = typer.Typer(
    name="bank", help="Banks: named lists of hashes to match against.", no_args_is_help=True
)
app.add_typer(bank_app, name="bank")

JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]
NameArgument = Annotated[str, typer.Argument(help="Bank name (lower-case slug).")]
SnapshotOption = Annotated[
    bool | None,
    typer.Option(
        "--snapshot/--no-snapshot",
        help="Write the matcher snapshot afterwards (default: when 100,000 hashes or more were "
        "added).",
    ),
]
# An import or fetch that adds this many hashes writes the matcher snapshot afterwards: replaying
# that many changes at every start would cost more than the few seconds the snapshot takes.
SNAPSHOT_AFTER_ADDED = 100_000


VPDQ_QUERY_HELP = "vPDQ: share (percent) of a query video's frames that must match a banked one's"
VPDQ_COMPARED_HELP = "vPDQ: share (percent) of a banked video's frames that must match the query's"
VpdqQueryOption = Annotated[float, typer.Option(help=VPDQ_QUERY_HELP + ".")]
VpdqComparedOption = Annotated[float, typer.Option(help=VPDQ_COMPARED_HELP + ".")]


class Exchange(StrEnum):
    NCMEC = "ncmec"
    STOPNCII = "stopncii"


@bank_app.command("create")
def create_command(
    name: NameArgument,
    description: Annotated[str, typer.Option(help="What the bank holds.")] = "",
    source: Annotated[str, typer.Option(help="Where its hashes come from.")] = "",
    verified: Annotated[
        bool, typer.Option("--verified", help="Its hashes were confirmed by an authority.")
    ] = False,
    pdq_threshold: Annotated[
        int, typer.Option(help="Largest PDQ distance that counts as a match.")
    ] = 31,
    review_distance: Annotated[
        int | None, typer.Option(help="PDQ matches up to this distance go to review only.")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="A tag (repeatable), e.g. A1 or IWF-A.")
    ] = None,
    robust: Annotated[
        bool,
        typer.Option(
            "--robust", help="Also match uploads with frames trimmed and small rotations undone."
        ),
    ] = False,
    vpdq_query_match: VpdqQueryOption = VPDQ_QUERY_MATCH_PERCENT,
    vpdq_compared_match: VpdqComparedOption = VPDQ_COMPARED_MATCH_PERCENT,
    json_lines: JsonOption = False,
) -> None:
    """Create an empty bank."""
    with opened_database() as database:
        bank = banks.create_bank(
            database,
            name,
            description=description,
            source=source,
            verified=verified,
            pdq_threshold=pdq_threshold,
            review_distance=review_distance,
            tags=tag or [],
            actor=operator_actor(),
            robust=robust,
            vpdq_query_match=vpdq_query_match,
            vpdq_compared_match=vpdq_compared_match,
        )
    _print_banks([bank], json_lines)


@bank_app.command("list")
def list_command(json_lines: JsonOption = False) -> None:
    """List the banks."""
    with opened_database() as database:
        _print_banks(banks.list_banks(database), json_lines)


@bank_app.command("show")
def show_command(name: NameArgument, json_lines: JsonOption = False) -> None:
    """Show one bank."""
    with opened_database() as database:
        bank = banks.get_bank(database, name)
    if json_lines:
        print_json(bank.as_dict())
        return
    for key, value in bank.as_dict().items():
        shown = " ".join(value) if isinstance(value, list) else value
        sys.stdout.write(f"{key + ':':<16} {'' if shown is None else shown}\n")


@bank_app.command("enable")
def enable_command(name: NameArgument, json_lines: JsonOption = False) -> None:
    """Match against this bank again."""
    with opened_database() as database:
        _print_banks(
            [banks.set_bank_enabled(database, name, True, actor=operator_actor())], json_lines
        )


@bank_app.command("disable")
def disable_command(name: NameArgument, json_lines: JsonOption = False) -> None:
    """Stop matching against this bank (its hashes are kept)."""
    with opened_database() as database:
        _print_banks(
            [banks.set_bank_enabled(database, name, False, actor=operator_actor())], json_lines
        )


@bank_app.command("thresholds")
def thresholds_command(
    name: NameArgument,
    pdq_threshold: Annotated[
        int, typer.Option(help="Largest PDQ distance that counts as a match.")
    ],
    review_distance: Annotated[
        int | None,
        typer.Option(help="PDQ matches up to this distance go to review only (default: none)."),
    ] = None,
    robust: Annotated[
        bool | None,
        typer.Option(
            "--robust/--no-robust",
            help="Switch matching of trimmed and un-rotated query variants (default: unchanged).",
        ),
    ] = None,
    vpdq_query_match: Annotated[
        float | None, typer.Option(help=VPDQ_QUERY_HELP + " (default: unchanged)")
    ] = None,
    vpdq_compared_match: Annotated[
        float | None, typer.Option(help=VPDQ_COMPARED_HELP + " (default: unchanged)")
    ] = None,
    json_lines: JsonOption = False,
) -> None:
    """Change a bank's PDQ threshold and review band; running matchers follow at once."""
    with opened_database() as database:
        bank = banks.set_bank_thresholds(
            database,
            name,
            pdq_threshold=pdq_threshold,
            review_distance=review_distance,
            actor=operator_actor(),
            robust=robust,
            vpdq_query_match=vpdq_query_match,
            vpdq_compared_match=vpdq_compared_match,
        )
    _print_banks([bank], json_lines)


@bank_app.command("delete")
def delete_command(
    name: NameArgument,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    json_lines: JsonOption = False,
) -> None:
    """Delete a bank and every hash in it."""
    if not yes:
        if not sys.stdin.isatty():
            raise InvalidInput(f"deleting bank {name!r} removes all its hashes; pass --yes")
        typer.confirm(f"Delete bank {name!r} and all its hashes?", abort=True)
    with opened_database() as database:
        removed = banks.delete_bank(database, name, actor=operator_actor())
    if json_lines:
        print_json({"bank": name, "deleted": True, "indicators": removed})
    else:
        sys.stdout.write(f"deleted bank {name} ({removed} hashes)\n")


@bank_app.command("import")
def import_command(
    name: NameArgument,
    file: Annotated[Path, typer.Argument(help="The list to import.")],
    list_format: Annotated[
        ListFormat | None,
        typer.Option("--format", help="List format (default: from the file name, else text)."),
    ] = None,
    signal_type: Annotated[
        str | None,
        typer.Option(help="Signal type of hashes that do not say (pdq, sha256…, vpdq)."),
    ] = None,
    snapshot: SnapshotOption = None,
    json_lines: JsonOption = False,
) -> None:
    """Import a list of hashes; lines already in the bank are skipped, bad lines reported.

    vPDQ (video) hashes are recognised by their form, or with --signal-type vpdq: a file of one
    video (Meta's frame lines, or python-threatexchange's JSON list), a directory of such files,
    or a list of many (JSON Lines, CSV, one JSON list per line).
    The JSON lines `tutela hash --json` prints are recognised too: each file's PDQ or vPDQ and
    its MD5, SHA-1 and SHA-256 are banked under its file name (a line with an error is bad).
    After adding 100,000 hashes or more it writes the matcher snapshot (see `bank snapshot`).
    Exit code 0 when every line was good, 1 when some were bad (the good ones are imported).
    """
    with opened_database() as database:
        if signal_type is None and list_format is None and looks_like_hash_lines(file):
            report = import_hash_lines(database, name, file, actor=operator_actor())
        elif (signal_type or "").strip().lower() == VPDQ or (
            signal_type is None and (file.is_dir() or looks_like_video_list(file))
        ):
            report = import_video_file(database, name, file, actor=operator_actor())
        else:
            total = count_lines(file) if stderr_is_terminal() else None
            with progress_bar(total, "importing", enabled=stderr_is_terminal()) as advance:
                report = import_file(
                    database,
                    name,
                    file,
                    list_format=list_format,
                    signal_type=signal_type,
                    progress=advance,
                    actor=operator_actor(),
                )
        written = _snapshot_after(database, report.added, snapshot)
    if json_lines:
        print_json(report.as_dict() | {"snapshot": written and written.as_dict()})
    else:
        sys.stdout.write(
            f"{report.added} added, {report.already_present} already present, "
            f"{report.bad_count} bad\n"
        )
    for bad in report.bad_lines:
        sys.stderr.write(f"{file}:{bad.line}: {bad.reason}\n")
    if report.bad_count > len(report.bad_lines):
        sys.stderr.write(f"… and {report.bad_count - len(report.bad_lines)} more bad lines\n")
    if report.bad_count:
        raise typer.Exit(1)


@bank_app.command("export")
def export_command(
    name: NameArgument,
    list_format: Annotated[ListFormat, typer.Option("--format", help="List format.")] = (
        ListFormat.CSV
    ),
    signal_type: Annotated[str | None, typer.Option(help="Only this signal type.")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Write the bank's hashes out in a format `bank import` reads back."""
    with opened_database() as database, ExitStack() as stack:
        out: TextIO = sys.stdout
        if output is not None:
            try:
                out = stack.enter_context(open(output, "w", encoding="utf-8", newline=""))
            except OSError as error:
                raise Unreadable(f"cannot write {output}: {error.strerror}") from None
        count = export_indicators(
            database, name, out, list_format=list_format, signal_type=signal_type
        )
    if output is not None:
        sys.stderr.write(f"wrote {count} hashes to {output}\n")


@bank_app.command("fetch")
def fetch_command(
    name: NameArgument,
    exchange: Annotated[Exchange, typer.Option("--from", help="The exchange to fetch from.")],
    credentials: Annotated[
        Path | None,
        typer.Option(help="JSON file of credentials (default: TUTELA_NCMEC_*/TUTELA_STOPNCII_*)."),
    ] = None,
    snapshot: SnapshotOption = None,
    json_lines: JsonOption = False,
) -> None:
    """Fetch a bank's hashes from NCMEC or StopNCII, resuming where the last fetch stopped.

    After adding 100,000 hashes or more it writes the matcher snapshot (see `bank snapshot`).
    """
    with opened_database() as database:
        with progress_bar(None, f"fetching {exchange}", enabled=stderr_is_terminal()) as advance:
            banks.get_bank(database, name)  # a missing bank fails before any network call
            report: FetchReport
            if exchange is Exchange.NCMEC:
                client = fetchers.ncmec_client(ncmec_credentials(credentials))
                report = fetchers.fetch_ncmec(
                    database, name, client, progress=advance, actor=operator_actor()
                )
            else:
                client = fetchers.stopncii_client(stopncii_credentials(credentials))
                report = fetchers.fetch_stopncii(
                    database, name, client, progress=advance, actor=operator_actor()
                )
        written = _snapshot_after(database, report.added, snapshot)
    if json_lines:
        print_json(report.as_dict() | {"snapshot": written and written.as_dict()})
    else:
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(report.skipped.items())) or "none"
        sys.stdout.write(
            f"{report.entries} entries in {report.pages} pages: {report.added} hashes added, "
            f"{report.removed} removed; skipped: {skipped}\n"
        )


@bank_app.command("snapshot")
def snapshot_command(
    full: Annotated[
        bool,
        typer.Option(
            "--full", help="Read every indicator from the database, not the current snapshot."
        ),
    ] = False,
    json_lines: JsonOption = False,
) -> None:
    """Write the matcher snapshot: the match indices as of now, in the data directory.

    Every process that matches (tutela serve's API and workers, tutela match, tutela scan) starts
    from it and replays only the changes made since, instead of reading every indicator: a second
    rather than minutes at millions of hashes. It is built from the current snapshot plus the
    changes since when there is a usable one (--full: from the database alone) and replaces it
    atomically, so running processes and starting ones are never disturbed. `bank import` and
    `bank fetch` write it after adding 100,000 hashes or more; where lists change a little at a
    time (feeds, small imports), `tutela serve` and `tutela outbox run` write it once it is 50,000
    changes behind (checked every 5 minutes); a node running neither runs this from cron, e.g.
    nightly. A snapshot that is damaged, made
    from another database, or over 200,000 changes behind is passed over with a warning and the
    database read instead.
    """
    with opened_database() as database:
        info, summary = _write_snapshot(database, full=full)
    if json_lines:
        print_json(info.as_dict())
    else:
        sys.stdout.write(summary + "\n")


def _snapshot_after(database: Database, added: int, wanted: bool | None) -> SnapshotInfo | None:
    """The snapshot after an import or fetch; a failure to write it is a warning, not a failure
    of what was imported."""
    if wanted is False or (wanted is None and added < SNAPSHOT_AFTER_ADDED):
        return None
    try:
        info, summary = _write_snapshot(database, full=False)
    except TutelaError as error:
        sys.stderr.write(f"warning: matcher snapshot not written: {error.message}\n")
        return None
    sys.stderr.write(summary + "\n")
    return info


def _write_snapshot(database: Database, *, full: bool) -> tuple[SnapshotInfo, str]:
    started = time.perf_counter()
    matcher = Matcher(database, use_snapshot=not full)
    terminal = stderr_is_terminal()
    total = count_matchable(database) if terminal else None
    with progress_bar(total, "reading indicators", enabled=terminal) as advance:
        matcher.load(progress=advance)
    with progress_bar(None, "writing matcher snapshot", enabled=terminal):
        info = matcher.save_snapshot()
    source = (
        "the previous snapshot and the changes since"
        if matcher.loaded_from == "snapshot"
        else "the database"
    )
    summary = (
        f"matcher snapshot: {info.indicators} indicators as of change {info.seq}, "
        f"{info.size_bytes / 1e6:.1f} MB, built from {source} in "
        f"{time.perf_counter() - started:.1f} s: {info.directory}"
    )
    return info, summary


def _print_banks(rows: list[BankView], json_lines: bool) -> None:
    if json_lines:
        for bank in rows:
            print_json(bank.as_dict())
        return
    sys.stdout.write(
        f"{'name':<24} {'enabled':<7} {'verified':<8} {'pdq':>3} {'review':>6} "
        f"{'hashes':>10}  tags\n"
    )
    for bank in rows:
        review = "-" if bank.review_distance is None else str(bank.review_distance)
        sys.stdout.write(
            f"{bank.name:<24} {'yes' if bank.enabled else 'no':<7} "
            f"{'yes' if bank.verified else 'no':<8} {bank.pdq_threshold:>3} {review:>6} "
            f"{bank.indicator_count:>10}  {' '.join(bank.tags)}\n"
        )
