"""`tutela keys generate|show`: the provider's Ed25519 key pair that signs reports (Art 13(1)(b))."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tutela.cli.app import app, load_settings, print_json
from tutela.reporting.signing import default_key_file, generate_key_file, load_key_file

keys_app = typer.Typer(name="keys", help="The key pair that signs reports.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object.")]


@keys_app.command("generate")
def generate_command(
    public_out: Annotated[
        Path | None, typer.Option("--public-out", help="Also write the public key PEM here.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing key.")] = False,
    json_lines: JsonOption = False,
) -> None:
    """Write a new private key (mode 0600) and print the public key to register at the centre."""
    path = default_key_file(load_settings())
    key = generate_key_file(path, overwrite=force)
    _show(path, key.key_id, key.public_key_pem(), public_out, json_lines)


@keys_app.command("show")
def show_command(
    public_out: Annotated[
        Path | None, typer.Option("--public-out", help="Also write the public key PEM here.")
    ] = None,
    json_lines: JsonOption = False,
) -> None:
    """Print the key id and public key of the existing key pair."""
    path = default_key_file(load_settings())
    key = load_key_file(path)
    _show(path, key.key_id, key.public_key_pem(), public_out, json_lines)


def _show(path: Path, key_id: str, pem: str, public_out: Path | None, json_lines: bool) -> None:
    if public_out is not None:
        public_out.write_text(pem, encoding="ascii")
    if json_lines:
        print_json({"private_key_file": str(path), "key_id": key_id, "public_key": pem})
    else:
        sys.stdout.write(f"private key: {path}\nkey id: {key_id}\n{pem}")
