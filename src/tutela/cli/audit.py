"""`tutela audit verify|list`: check the audit log's hash chain, and read it."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer

from tutela.audit.log import list_entries
from tutela.audit.verify import verify_chain
from tutela.auth.actor_names import actor_names, shown_actor
from tutela.cli.app import app, print_json
from tutela.cli.db import opened_database

audit_app = typer.Typer(name="audit", help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


def operator_actor() -> str:
    """Who the audit log names for a command: the operating-system account that ran it."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no such entry in the password database, e.g. in a container
        return "cli"


@audit_app.command("verify")
def verify_command(
    anchor: Annotated[
        str | None,
        typer.Option(
            "--anchor", help="A head hash recorded earlier; it must still be in the chain."
        ),
    ] = None,
    json_lines: JsonOption = False,
) -> None:
    """Walk the whole chain. Exit 0 with the count and head hash when intact; exit 1 naming the
    first broken link otherwise. Record the head hash elsewhere to anchor later checks."""
    with opened_database() as database, database.reader() as session:
        report = verify_chain(session, anchor=anchor)
    if json_lines:
        print_json(report.as_dict())
    elif report.intact:
        sys.stdout.write(
            f"audit log intact: {report.count} entries; head seq {report.head_seq} hash "
            f"{report.head_hash}\n"
        )
    else:
        where = f" at seq {report.broken_at}" if report.broken_at is not None else ""
        sys.stdout.write(f"audit log BROKEN{where}: {report.problem}\n")
    if not report.intact:
        raise typer.Exit(1)


@audit_app.command("list")
def list_command(
    after: Annotated[int, typer.Option("--after", help="Start after this seq.")] = 0,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 100,
    action: Annotated[str | None, typer.Option("--action", help="Only this action.")] = None,
    json_lines: JsonOption = False,
) -> None:
    """Print entries in chain order; people by account name, with their id (`ana (user:3)`)."""
    with opened_database() as database, database.reader() as session:
        entries = list_entries(session, after_seq=after, limit=limit, action=action)
        names = actor_names(session, {entry.actor for entry in entries})
    for entry in entries:
        if json_lines:
            print_json({**entry.as_dict(), "actor_name": names.get(entry.actor)})
        else:
            subject = f"{entry.subject.type}:{entry.subject.id}" if entry.subject else "-"
            sys.stdout.write(
                f"{entry.seq:>8}  {entry.at.isoformat()}  {shown_actor(entry.actor, names):<24} "
                f"{entry.action:<16} {subject}\n"
            )
