"""Commands start at once: `tutela` imports only the modules of the command it runs, and the
table it lists commands from says exactly what the modules register."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
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


def test_hashing_a_file_leaves_decoding_and_conversion_libraries_to_the_workers(
    tmp_path: Path,
) -> None:
    """The parent lists, dispatches and prints: numpy, Pillow and the hashers load only in the
    isolated workers, pydantic (Typer's conversion) and rich (no terminal) not at all."""
    from PIL import Image

    photo = tmp_path / "drawn.png"
    Image.new("RGB", (64, 48), (200, 120, 40)).save(photo)
    loaded = modules_loaded_by(["hash", "--json", "--jobs", "1", str(photo)])
    assert "tutela.cli.hash" in loaded
    roots = {module.split(".")[0] for module in loaded}
    assert not roots & {"numpy", "PIL", "pdqhash", "numba", "pydantic", "rich", "asyncio"}
    assert not [
        m for m in loaded if m.startswith(("tutela.signals.hashing", "tutela.media.decode"))
    ]


def test_help_converts_nothing_through_pydantic() -> None:
    assert not {m.split(".")[0] for m in modules_loaded_by(["--help"])} & {"pydantic", "numpy"}


def test_a_command_is_built_from_its_own_modules_only() -> None:
    loaded = modules_loaded_by(["bank", "--help"])
    assert {"tutela.cli.bank", "tutela.cli.feed"} <= loaded
    assert "tutela.cli.centre" not in loaded and "tutela.cli.serve" not in loaded


def test_the_command_table_gives_each_command_its_own_help_line() -> None:
    group = typer.main.get_group(load_commands())
    assert {n: c.get_short_help_str(200) for n, c in group.commands.items()} == {
        n: entry.help for n, entry in COMMANDS.items()
    }


def test_a_worker_does_not_load_the_web_apps_or_the_console() -> None:
    loaded = modules_loaded_by(["worker", "--help"])
    assert "tutela.cli.worker" in loaded and "tutela.cli.serve" not in loaded
    assert not [m for m in loaded if m.startswith(("fastapi", "tutela.api", "tutela.ui"))]


@pytest.mark.parametrize("node", ["centre", "authority"])
def test_a_nodes_commands_other_than_serve_do_not_load_its_web_app(node: str) -> None:
    loaded = modules_loaded_by([node, "keys", "--help"])
    assert f"tutela.cli.{node}" in loaded
    assert not [m for m in loaded if m.startswith(("fastapi", "tutela.api", "tutela.ui"))]


def test_a_command_on_a_database_at_head_loads_neither_alembic_nor_numba_nor_exchanges(
    tmp_path: Path,
) -> None:
    env = {"PATH": "/usr/bin:/bin", "TUTELA_DATA_DIR": str(tmp_path / "data")}
    script = (
        "import sys\n"
        "from tutela.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stderr.write('\\n'.join(sorted(sys.modules)))\n"
    )

    def loaded_by(*argv: str) -> set[str]:
        done = subprocess.run(
            [sys.executable, "-c", script, *argv],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            env={**env, "PYTHONPATH": ":".join(sys.path)},
        )
        return {m.split(".")[0] for m in done.stderr.splitlines()}

    assert "alembic" in loaded_by("db", "upgrade")  # a new database: the migrations run
    roots = loaded_by("bank", "list")
    assert "sqlalchemy" in roots
    assert not roots & {"alembic", "numba", "threatexchange", "requests", "fastapi"}
