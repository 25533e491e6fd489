"""`tutela transparency report --year Y [--format json|csv|html] [--centre] [--out FILE]`: the
yearly figures of Art 83 (a provider's by default, the centre's with `--centre`), with measured
error rates; every document made is in the audit log."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tutela.cli.app import app
from tutela.cli.audit import operator_actor
from tutela.cli.db import opened_database
from tutela.errors import Unreadable
from tutela.transparency.documents import Format, render
from tutela.transparency.reports import yearly_figures

transparency_app = typer.Typer(
    name="transparency", help="Yearly figures with error rates (Art 83).", no_args_is_help=True
)
app.add_typer(transparency_app, name="transparency")


@transparency_app.command("report")
def report_command(
    year: Annotated[int, typer.Option("--year", help="The calendar year (UTC).")],
    form: Annotated[
        Format, typer.Option("--format", help="json, csv or html (with charts).")
    ] = Format.JSON,
    centre: Annotated[
        bool, typer.Option("--centre", help="The centre's figures (Art 83(3)).")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """The provider's figures (Art 83(2)) or, with --centre, the centre's (Art 83(3))."""
    with opened_database() as database:
        figures = yearly_figures(database, year, actor=operator_actor(), centre=centre)
    document = render(figures, form)
    if out is None:
        sys.stdout.write(document)
        return
    try:
        out.write_text(document, encoding="utf-8")
    except OSError as error:
        raise Unreadable(f"cannot write {out}: {error.strerror}") from None
