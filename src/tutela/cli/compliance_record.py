"""`tutela authority provider record NAME --out FILE`: a provider's compliance record (its
orders with their execution, Art 5 risk reports and yearly figures, each with the provider's
signature) as one file signed with the authority's key; audited under the console account given
with `--by`."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from tutela.auth.actors import acting_account
from tutela.auth.roles import Permission
from tutela.authority.compliance_record import export_record
from tutela.authority.issuing import Issuer
from tutela.authority.keys import load_authority_key
from tutela.authority.providers import provider_named
from tutela.cli.app import load_settings, print_json
from tutela.cli.authority import ByOption, JsonOption, provider_app
from tutela.cli.db import opened_database
from tutela.clock import SystemClock


@provider_app.command("record")
def record_command(
    name: Annotated[str, typer.Argument(help="The provider's registered name.")],
    out: Annotated[Path, typer.Option("--out", help="File to write the signed record to.")],
    by: ByOption,
    json_lines: JsonOption = False,
) -> None:
    """Export the provider's compliance record, signed with the authority's key."""
    settings = load_settings()
    key = load_authority_key(settings)
    issuer = Issuer.of(settings)
    deadline = timedelta(hours=settings.removal_deadline_hours)
    with opened_database() as database:
        with database.reader() as session:
            account = acting_account(session, by, Permission.SUPERVISE_ORDERS)
            provider_id = provider_named(session, name).id
            actor = account.actor
        exported = export_record(
            database, actor, provider_id, key, issuer, SystemClock().now(), deadline
        )
    # Written whole or not at all: a half-written record must not pass for the signed one.
    partial = out.with_name(out.name + ".part")
    partial.write_bytes(exported.file_bytes)
    os.replace(partial, out)
    if json_lines:
        print_json({"provider": exported.provider, "out": str(out)})
    else:
        sys.stdout.write(f"compliance record of {exported.provider}, signed: {out}\n")
