"""The Typer application object and the small pieces every command shares."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from tutela.settings import Settings

app = typer.Typer(
    name="tutela",
    help="Tutela: detect, review and report known child sexual abuse material (EU CSA Regulation).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def load_settings() -> Settings:
    return Settings.from_env()


def print_json(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n")


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


@app.callback()
def _root() -> None:
    """Tutela: detect, review and report known child sexual abuse material (EU CSA Regulation)."""
