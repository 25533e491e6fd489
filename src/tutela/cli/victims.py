"""`tutela centre requester add|ask`: the authorities and hotlines registered at the centre to
ask, on a victim's behalf, whether material depicting them was reported (Art 20-21); `ask` is
the requester's side, run where the victim's hashes are, and sends nothing but them."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Annotated

import httpx
import typer

from tutela.centre.victims import KIND, REQUESTER_KINDS, REQUESTS_PATH, add_requester, hashes_of
from tutela.cli.app import print_json
from tutela.cli.centre import ByOption, JsonOption, centre_app
from tutela.cli.db import opened_database
from tutela.clock import utc_now
from tutela.errors import Unprocessable, Unreadable
from tutela.messaging.http import open_client
from tutela.messaging.messages import sign_message
from tutela.messaging.signing import load_key_file

requester_app = typer.Typer(
    name="requester",
    help="Authorities and hotlines that ask for victims (Art 20-21).",
    no_args_is_help=True,
)
centre_app.add_typer(requester_app, name="requester")


@requester_app.command("add")
def requester_add_command(
    name: Annotated[str, typer.Argument(help="The authority's or hotline's name.")],
    public_key: Annotated[
        Path, typer.Option("--public-key", help="PEM file of its Ed25519 public key.")
    ],
    by: ByOption,
    kind: Annotated[
        str, typer.Option("--kind", help=f"One of {', '.join(REQUESTER_KINDS)}.")
    ] = "hotline",
    json_lines: JsonOption = False,
) -> None:
    """Register an authority or hotline and the key its victims' requests are signed with."""
    try:
        pem = public_key.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        raise Unreadable(f"cannot read the public key file {public_key}") from None
    with opened_database() as database:
        requester = add_requester(database, by, name, kind, pem)
    if json_lines:
        print_json(
            {
                "id": requester.id,
                "name": requester.name,
                "kind": requester.kind,
                "key_id": requester.key_id,
            }
        )
    else:
        sys.stdout.write(f"registered {requester.kind} {requester.name} ({requester.key_id})\n")


@requester_app.command("ask")
def requester_ask_command(
    centre_url: Annotated[str, typer.Argument(help="The centre's base URL.")],
    hashes: Annotated[
        Path, typer.Argument(help="A file of the lines `tutela hash --json` printed.")
    ],
    key: Annotated[Path, typer.Option("--key", help="The requester's Ed25519 private key.")],
    ask_removal: Annotated[
        bool, typer.Option("--ask-removal", help="Ask the providers concerned to remove it.")
    ] = False,
    idempotency_key: Annotated[
        str | None, typer.Option("--idempotency-key", help="Resend a request under its key.")
    ] = None,
) -> None:
    """Ask the centre, signed, whether material with these hashes was reported (Art 20-21);
    prints the centre's answer as one JSON object. Only the hashes leave this machine."""
    try:
        lines = [json.loads(line) for line in hashes.read_text("utf-8").splitlines() if line]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise Unreadable(f"cannot read hash lines from {hashes}") from None
    payload = {"hashes": hashes_of(lines), "ask_removal": ask_removal}
    request_key = idempotency_key or f"victim-{uuid.uuid4()}"
    message = sign_message(load_key_file(key), KIND, request_key, payload, utc_now())
    with open_client() as client:
        try:
            response = client.post(
                centre_url.rstrip("/") + REQUESTS_PATH,
                content=message.body,
                headers=message.headers(request_key),
            )
        except httpx.HTTPError as error:
            raise Unprocessable(f"the centre did not answer: {type(error).__name__}") from None
    if not response.is_success:
        code = _problem_code(response)
        raise Unprocessable(f"the centre refused the request ({response.status_code} {code})")
    print_json(response.json())


def _problem_code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("code", ""))
    except ValueError:
        return ""
