"""What every `… keys generate|show` command prints of a node's Ed25519 key pair (provider,
centre, authority): the private key's path, the key id and the public key to register."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tutela.cli.app import print_json
from tutela.messaging.signing import SigningKey, generate_key_file

PublicOutOption = Annotated[
    Path | None, typer.Option("--public-out", help="Also write the public key PEM here.")
]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace an existing key.")]


def generate_and_show(path: Path, force: bool, public_out: Path | None, json_lines: bool) -> None:
    """Write a new private key at `path` (mode 0600) and show it."""
    show_key(path, generate_key_file(path, overwrite=force), public_out, json_lines)


def show_key(path: Path, key: SigningKey, public_out: Path | None, json_lines: bool) -> None:
    pem = key.public_key_pem()
    if public_out is not None:
        public_out.write_text(pem, encoding="ascii")
    if json_lines:
        print_json({"private_key_file": str(path), "key_id": key.key_id, "public_key": pem})
    else:
        sys.stdout.write(f"private key: {path}\nkey id: {key.key_id}\n{pem}")
