"""Edge layer: the `tutela` command line. Commands translate arguments into engine/domain calls.

Each command's module registers it on the Typer app (`tutela.cli.app`); `main` imports only the
modules of the command being run (see `tutela.cli.commands`), so that every command starts at once.
"""

from __future__ import annotations

import sys

from tutela.cli.app import app, load_commands
from tutela.errors import TutelaError

__all__ = ["app", "load_commands", "main"]

EXIT_FAILED = 1
EXIT_INTERNAL = 70


def main(argv: list[str] | None = None) -> None:
    """Entry point: no traceback ever reaches the user, only a line and an exit code."""
    try:
        # Standalone mode: usage errors print and exit 2, typer.Exit carries the exit code.
        app(args=argv, prog_name="tutela")
    except TutelaError as error:
        sys.stderr.write(f"error: {error.message} [{error.code}]\n")
        sys.exit(EXIT_FAILED)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except Exception as error:  # a defect: say so in one line, never a traceback
        sys.stderr.write(
            f"internal error: {type(error).__name__}: {error}. "
            "This is a bug in Tutela; please report it with the command you ran.\n"
        )
        sys.exit(EXIT_INTERNAL)
