"""`tutela vault keygen|list|extend|purge|rotate`: the evidence vault's keys and retention."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from tutela.cli.app import app, load_settings, print_json
from tutela.cli.audit import operator_actor
from tutela.cli.db import opened_database
from tutela.clock import SystemClock
from tutela.enforcement.vault import Vault, list_records, rotate_master_key
from tutela.errors import InvalidInput
from tutela.master_key import (
    generate_master_key,
    load_master_key,
    read_master_key_file,
    write_master_key_file,
)

vault_app = typer.Typer(
    name="vault", help="The encrypted evidence vault (Art 22).", no_args_is_help=True
)
app.add_typer(vault_app, name="vault")
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


@vault_app.command("keygen")
def keygen_command(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the key to this new file (mode 0600) instead of stdout."),
    ] = None,
) -> None:
    """Make a new random master key (base64 of 32 bytes) and print its key id."""
    key = generate_master_key()
    if out is None:
        sys.stdout.write(key.encode() + "\n")
        sys.stderr.write(
            f"key id {key.key_id}; set it as TUTELA_VAULT_KEY and keep a copy offline\n"
        )
        return
    write_master_key_file(out, key)
    sys.stdout.write(
        f"wrote master key {key.key_id} to {out}; set TUTELA_VAULT_KEY_FILE={out} and keep a copy "
        "offline\n"
    )


@vault_app.command("list")
def list_command(
    all_records: Annotated[
        bool, typer.Option("--all", help="Include destroyed (expired) records.")
    ] = False,
    json_lines: JsonOption = False,
) -> None:
    """List records: item, reason, expiry, key id. Never content or metadata."""
    with opened_database() as database, database.reader() as session:
        records = list_records(session, include_purged=all_records)
    for view in records:
        if json_lines:
            print_json(view.as_dict())
        else:
            state = "destroyed" if view.purged_at else f"until {view.expires_at.isoformat()}"
            sys.stdout.write(f"{view.id:>8}  {view.reason:<18} {state:<40} {view.item_ref}\n")


@vault_app.command("extend")
def extend_command(
    record_id: Annotated[int, typer.Argument(help="The record's id.")],
    until: Annotated[str, typer.Option("--until", help="New expiry, ISO 8601 with time zone.")],
    legal_reason: Annotated[
        str,
        typer.Option("--legal-reason", help="The authority's or court's request (Art 22(2))."),
    ],
) -> None:
    """Keep a record past its normal expiry, on an authority's or court's request."""
    try:
        until_at = datetime.fromisoformat(until)
    except ValueError:
        raise InvalidInput(f"--until is not an ISO 8601 date and time: {until!r}") from None
    with opened_database() as database:
        vault = Vault.from_settings(load_settings())
        view = vault.extend(database, record_id, until_at, legal_reason, operator_actor())
    sys.stdout.write(f"record {view.id} now kept until {view.expires_at.isoformat()}\n")


@vault_app.command("purge")
def purge_command(json_lines: JsonOption = False) -> None:
    """Destroy every record past its expiry (crypto-shredding). Run it daily from a scheduler."""
    with opened_database() as database:
        vault = Vault.from_settings(load_settings())
        destroyed = vault.purge(database, actor=operator_actor())
    if json_lines:
        print_json({"destroyed": destroyed})
    else:
        sys.stdout.write(f"destroyed {len(destroyed)} expired records\n")


@vault_app.command("rotate")
def rotate_command(
    new_key_file: Annotated[
        Path, typer.Option("--new-key-file", help="The new master key, from `tutela vault keygen`.")
    ],
) -> None:
    """Re-wrap every record's data key under a new master key (the old one is the configured
    key). Then point TUTELA_VAULT_KEY_FILE at the new file."""
    settings = load_settings()
    old = load_master_key(settings)
    new = read_master_key_file(new_key_file)
    with opened_database() as database:
        count = rotate_master_key(
            database, old, new, actor=operator_actor(), now=SystemClock().now()
        )
    sys.stdout.write(
        f"re-wrapped {count} records from key {old.key_id} to key {new.key_id}; now set "
        f"TUTELA_VAULT_KEY_FILE={new_key_file} (and unset TUTELA_VAULT_KEY)\n"
    )
