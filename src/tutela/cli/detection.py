"""`tutela detection basis set|clear|list`: the voluntary bases an administrator sets for
known-material detection on a service part (or `*`, every service), beside the bases detection
orders bring (Art 7-11). Without one or the other, items of a service are not matched."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tutela.cli.app import app, print_json
from tutela.cli.db import opened_database
from tutela.detection.bases import (
    BasisView,
    clear_voluntary_basis,
    list_bases,
    set_voluntary_basis,
)

detection_app = typer.Typer(
    name="detection",
    help="Detection orders and voluntary bases that allow detection.",
    no_args_is_help=True,
)
basis_app = typer.Typer(
    name="basis",
    help="What allows known-material detection on each service part.",
    no_args_is_help=True,
)
app.add_typer(detection_app, name="detection")
detection_app.add_typer(basis_app, name="basis")
ByOption = Annotated[str, typer.Option("--by", help="Your console account (administrator).")]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


@basis_app.command("set")
def set_command(
    service: Annotated[
        str,
        typer.Option(
            "--service", help="A service part as items name it (metadata.service), or * for all."
        ),
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why detection runs voluntarily.")],
    by: ByOption,
    json_lines: JsonOption = False,
) -> None:
    """Set a voluntary basis for known-material detection on a service (audited)."""
    with opened_database() as database:
        view = set_voluntary_basis(database, by, service, reason)
    _emit(view, json_lines)


@basis_app.command("clear")
def clear_command(
    basis_id: Annotated[
        int, typer.Argument(help="The basis's id (`tutela detection basis list`).")
    ],
    by: ByOption,
    json_lines: JsonOption = False,
) -> None:
    """Clear a voluntary basis now (audited); running detection stops within a minute."""
    with opened_database() as database:
        view = clear_voluntary_basis(database, by, basis_id)
    _emit(view, json_lines)


@basis_app.command("list")
def list_command(
    everything: Annotated[bool, typer.Option("--all", help="Cleared and ended bases too.")] = False,
    json_lines: JsonOption = False,
) -> None:
    """Bases not cleared: voluntary ones, and those of detection orders (ended ones included)."""
    with opened_database() as database:
        views = list_bases(database, everything=everything)
    for view in views:
        _emit(view, json_lines)


def _emit(view: BasisView, json_lines: bool) -> None:
    if json_lines:
        print_json(view.as_dict())
        return
    basis = view.basis
    under = f"order {basis.order_ref} of {basis.authority}" if basis.order_ref else basis.set_by
    until = basis.ends_at.isoformat() if basis.ends_at else "until cleared"
    cleared = (
        f" cleared {view.cleared_at.isoformat()} by {view.cleared_by}" if view.cleared_at else ""
    )
    sys.stdout.write(
        f"{basis.id:>4} {basis.source:<9} {basis.kind:<6} {basis.service:<16} "
        f"{basis.starts_at.isoformat()} – {until}  {under}{cleared}\n"
    )
