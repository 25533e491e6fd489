"""Commands start at once: `tutela` imports only the modules of the command it runs, and the
table it lists commands from says exactly what the modules register."""

from __future__ import annotations

import subprocess
import sys

import typer.main

from tutela.cli import load_commands
from tutela.cli.commands import COMMANDS

HEAVY = ("fastapi", "sqlalchemy", "numba", "uvicorn", "tutela.api", "tutela.indicators")


def modules_loaded_by(argv: list[str]) -> set[str]:
    """The modules a fresh interpreter has imported after running `tutela ARGV`."""
    script = (
        "import sys\n"
        "from tutela.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stderr.write('\\n'.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    return set(done.stderr.splitlines())


def test_the_command_table_lists_exactly_the_registered_top_level_commands() -> None:
    group = typer.main.get_group(load_commands())
    assert sorted(group.commands) == sorted(COMMANDS)


def test_help_lists_every_command_without_importing_the_application() -> None:
    loaded = modules_loaded_by(["--help"])
    assert not [m for m in loaded if m.split(".")[0] in HEAVY or m.startswith(HEAVY)]


def test_hashing_a_file_does_not_load_the_web_database_or_index_layers() -> None:
    loaded = modules_loaded_by(["hash", "--help"])
    assert "tutela.cli.hash" in loaded
    assert not [m for m in loaded if m.split(".")[0] in HEAVY or m.startswith(HEAVY)]


def test_a_command_is_built_from_its_own_modules_only() -> None:
    loaded = modules_loaded_by(["bank", "--help"])
    assert {"tutela.cli.bank", "tutela.cli.feed"} <= loaded
    assert "tutela.cli.centre" not in loaded and "tutela.cli.serve" not in loaded


def test_the_command_table_gives_each_command_its_own_help_line() -> None:
    group = typer.main.get_group(load_commands())
    assert {n: c.get_short_help_str(200) for n, c in group.commands.items()} == {
        n: entry.help for n, entry in COMMANDS.items()
    }
