"""`tutela keys generate|show`: the provider's Ed25519 key pair that signs reports (Art 13(1)(b))."""

from __future__ import annotations

from typing import Annotated

import typer

from tutela.cli.app import app, load_settings
from tutela.cli.key_files import ForceOption, PublicOutOption, generate_and_show, show_key
from tutela.messaging.signing import default_key_file, load_key_file

keys_app = typer.Typer(name="keys", help="The key pair that signs reports.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object.")]


@keys_app.command("generate")
def generate_command(
    public_out: PublicOutOption = None, force: ForceOption = False, json_lines: JsonOption = False
) -> None:
    """Write a new private key (mode 0600) and print the public key to register at the centre."""
    generate_and_show(default_key_file(load_settings()), force, public_out, json_lines)


@keys_app.command("show")
def show_command(public_out: PublicOutOption = None, json_lines: JsonOption = False) -> None:
    """Print the key id and public key of the existing key pair."""
    path = default_key_file(load_settings())
    show_key(path, load_key_file(path), public_out, json_lines)
