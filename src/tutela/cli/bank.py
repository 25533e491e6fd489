"""`tutela bank …`: create, list, show, switch, delete, import, export and fetch banks."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TextIO

import typer

from tutela.cli.app import app, print_json, stderr_is_terminal
from tutela.cli.db import opened_database
from tutela.cli.progress import progress_bar
from tutela.errors import InvalidInput, Unreadable
from tutela.indicators import banks
from tutela.indicators.banks import BankView
from tutela.indicators.exports import export_indicators
from tutela.indicators.fetchers import (
    FetchReport,
    fetch_ncmec,
    fetch_stopncii,
    ncmec_client,
    ncmec_credentials,
    stopncii_client,
    stopncii_credentials,
)
from tutela.indicators.imports import count_lines, import_file
from tutela.indicators.list_formats import ListFormat

bank_app = typer.Typer(
    name="bank", help="Banks: named lists of hashes to match against.", no_args_is_help=True
)
app.add_typer(bank_app, name="bank")

JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]
NameArgument = Annotated[str, typer.Argument(help="Bank name (lower-case slug).")]


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
        _print_banks([banks.set_bank_enabled(database, name, True)], json_lines)


@bank_app.command("disable")
def disable_command(name: NameArgument, json_lines: JsonOption = False) -> None:
    """Stop matching against this bank (its hashes are kept)."""
    with opened_database() as database:
        _print_banks([banks.set_bank_enabled(database, name, False)], json_lines)


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
        removed = banks.delete_bank(database, name)
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
        str | None, typer.Option(help="Signal type of hashes that do not say (pdq, sha256…).")
    ] = None,
    json_lines: JsonOption = False,
) -> None:
    """Import a list of hashes; lines already in the bank are skipped, bad lines reported.

    Exit code 0 when every line was good, 1 when some were bad (the good ones are imported).
    """
    with opened_database() as database:
        total = count_lines(file) if stderr_is_terminal() else None
        with progress_bar(total, "importing", enabled=stderr_is_terminal()) as advance:
            report = import_file(
                database,
                name,
                file,
                list_format=list_format,
                signal_type=signal_type,
                progress=advance,
            )
    if json_lines:
        print_json(report.as_dict())
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
    json_lines: JsonOption = False,
) -> None:
    """Fetch a bank's hashes from NCMEC or StopNCII, resuming where the last fetch stopped."""
    with (
        opened_database() as database,
        progress_bar(None, f"fetching {exchange}", enabled=stderr_is_terminal()) as advance,
    ):
        banks.get_bank(database, name)  # a missing bank fails before any network call
        report: FetchReport
        if exchange is Exchange.NCMEC:
            client = ncmec_client(ncmec_credentials(credentials))
            report = fetch_ncmec(database, name, client, progress=advance)
        else:
            client = stopncii_client(stopncii_credentials(credentials))
            report = fetch_stopncii(database, name, client, progress=advance)
    if json_lines:
        print_json(report.as_dict())
    else:
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(report.skipped.items())) or "none"
        sys.stdout.write(
            f"{report.entries} entries in {report.pages} pages: {report.added} hashes added, "
            f"{report.removed} removed; skipped: {skipped}\n"
        )


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
