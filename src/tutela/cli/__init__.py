"""Edge layer: the `tutela` command line. Commands translate arguments into engine/domain calls."""

from __future__ import annotations

import sys

from tutela.cli import apikey as _apikey  # noqa: F401  (registers its commands)
from tutela.cli import audit as _audit  # noqa: F401  (registers its commands)
from tutela.cli import bank as _bank  # noqa: F401  (registers its commands)
from tutela.cli import centre as _centre  # noqa: F401  (registers its commands)
from tutela.cli import db as _db  # noqa: F401  (registers its commands)
from tutela.cli import enforcement as _enforcement  # noqa: F401  (registers its commands)
from tutela.cli import feed as _feed  # noqa: F401  (registers its commands)
from tutela.cli import hash as _hash  # noqa: F401  (registers its command)
from tutela.cli import keys as _keys  # noqa: F401  (registers its commands)
from tutela.cli import match as _match  # noqa: F401  (registers its command)
from tutela.cli import outbox as _outbox  # noqa: F401  (registers its commands)
from tutela.cli import policy as _policy  # noqa: F401  (registers its commands)
from tutela.cli import scan as _scan  # noqa: F401  (registers its command)
from tutela.cli import serve as _serve  # noqa: F401  (registers its commands)
from tutela.cli import user as _user  # noqa: F401  (registers its commands)
from tutela.cli import vault as _vault  # noqa: F401  (registers its commands)
from tutela.cli.app import app
from tutela.errors import TutelaError

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
