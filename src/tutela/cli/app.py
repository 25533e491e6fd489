"""The Typer application object and the small pieces every command shares."""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup

from tutela.cli.commands import COMMANDS
from tutela.cli.light_params import lighten, lighten_parameter
from tutela.settings import Settings


class LazyCommands(TyperGroup):
    """The root group: lists the commands from `tutela.cli.commands` and imports a command's
    modules only when that command runs, so that every command starts at once."""

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            load_commands([cmd_name])
            self.commands.update(typer.main.get_group(app).commands)
            lighten(self.commands.get(cmd_name))
        return self.commands.get(cmd_name)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        lighten_parameter(option)  # the root's --help is parsed before any command is loaded
        return option

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name].help) for name in self.list_commands(ctx)])


def load_commands(names: list[str] | None = None) -> typer.Typer:
    """Import the modules that register the named top-level commands (all of them when None)."""
    for name in COMMANDS if names is None else names:
        for module in COMMANDS[name].modules:
            importlib.import_module(f"tutela.cli.{module}")
    return app


app = typer.Typer(
    cls=LazyCommands,
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
