"""`tutela policy set|show BANK` and `tutela safelist add|list|remove`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tutela.cli.app import app, print_json
from tutela.cli.audit import operator_actor
from tutela.cli.db import opened_database
from tutela.detection import policy, safelist
from tutela.detection.policy import PolicyView

policy_app = typer.Typer(
    name="policy", help="What matches of each bank lead to.", no_args_is_help=True
)
safelist_app = typer.Typer(
    name="safelist",
    help="Known false positives, whose matches are suppressed.",
    no_args_is_help=True,
)
app.add_typer(policy_app, name="policy")
app.add_typer(safelist_app, name="safelist")
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


@policy_app.command("set")
def set_command(
    bank: Annotated[str, typer.Argument(help="Bank name.")],
    action_pdq_distance: Annotated[
        int | None,
        typer.Option(help="PDQ matches up to this distance give `action` (verified banks only)."),
    ] = None,
    action_exact: Annotated[
        bool, typer.Option("--action-exact", help="Exact hash matches give `action`.")
    ] = False,
    ignore_above: Annotated[
        int | None, typer.Option(help="PDQ matches farther than this are ignored.")
    ] = None,
    flood_count: Annotated[
        int, typer.Option(help="An indicator matching more often than this in the window …")
    ] = policy.DEFAULT_FLOOD_COUNT,
    flood_window: Annotated[
        int, typer.Option(help="… (seconds) gives `review` only, and raises an alert.")
    ] = policy.DEFAULT_FLOOD_WINDOW_S,
    json_lines: JsonOption = False,
) -> None:
    """Replace a bank's policy. Without options: every match goes to review."""
    with opened_database() as database:
        view = policy.set_bank_policy(
            database,
            bank,
            action_pdq_distance=action_pdq_distance,
            action_exact=action_exact,
            ignore_pdq_above=ignore_above,
            flood_count=flood_count,
            flood_window_s=flood_window,
            actor=operator_actor(),
        )
    _print_policy(view, json_lines)


@policy_app.command("show")
def show_command(
    bank: Annotated[str, typer.Argument(help="Bank name.")], json_lines: JsonOption = False
) -> None:
    """Show a bank's policy."""
    with opened_database() as database:
        _print_policy(policy.get_bank_policy(database, bank), json_lines)


@safelist_app.command("add")
def add_command(
    signal_type: Annotated[str, typer.Argument(help="pdq, md5, sha1 or sha256.")],
    value: Annotated[str, typer.Argument(help="The hash of the known false positive.")],
    reason: Annotated[str, typer.Option(help="Why it is safe.")] = "",
) -> None:
    """Suppress matches of items whose signal has this value."""
    with opened_database() as database:
        entry = safelist.add_safe_entry(
            database, signal_type, value, reason, actor=operator_actor()
        )
    sys.stdout.write(f"safelisted {entry.signal_type} {entry.value}\n")


@safelist_app.command("list")
def list_command(json_lines: JsonOption = False) -> None:
    """List the safe list."""
    with opened_database() as database:
        for entry in safelist.list_safe_entries(database):
            if json_lines:
                print_json(entry.as_dict())
            else:
                sys.stdout.write(f"{entry.signal_type:<7} {entry.value}  {entry.reason}\n")


@safelist_app.command("remove")
def remove_command(
    signal_type: Annotated[str, typer.Argument(help="pdq, md5, sha1 or sha256.")],
    value: Annotated[str, typer.Argument(help="The hash to take off the list.")],
) -> None:
    """Take a value off the safe list."""
    with opened_database() as database:
        safelist.remove_safe_entry(database, signal_type, value, actor=operator_actor())
    sys.stdout.write(f"removed {signal_type} {value}\n")


def _print_policy(view: PolicyView, json_lines: bool) -> None:
    if json_lines:
        print_json(view.as_dict())
        return
    for key, value in view.as_dict().items():
        sys.stdout.write(f"{key:<20} {value}\n")
