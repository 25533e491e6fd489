"""Docs that cannot drift: every setting and every CLI command is in the README."""

from __future__ import annotations

from pathlib import Path

import typer.main

from tutela.cli import load_commands
from tutela.indicators.fetchers.credentials import CREDENTIAL_VARIABLES
from tutela.setting_fields import declared
from tutela.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_is_documented_in_the_readme() -> None:
    names = [setting.env for setting, _ in declared(Settings)] + [*CREDENTIAL_VARIABLES]
    missing = [name for name in names if f"`{name}`" not in README]
    assert not missing


def test_every_top_level_command_is_documented_in_the_readme() -> None:
    group = typer.main.get_group(load_commands())
    names = sorted(group.commands)
    assert "hash" in names
    missing = [name for name in names if f"tutela {name}" not in README]
    assert not missing


def test_ci_runs_the_readme_test_command() -> None:
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "make test" in README
    assert "make test" in ci
