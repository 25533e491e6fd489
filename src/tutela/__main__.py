"""`tutela` and `python -m tutela`: a launcher that imports the CLI only when it runs.

Worker processes started with multiprocessing's spawn method re-import the main script; keeping
this module light means a decoding worker does not load the whole CLI (database, web, index).
"""

from __future__ import annotations

import sys

EXIT_INTERNAL = 70


def main() -> None:
    # httpx imports its own command line (Click and Rich, ~0.15 CPU-s) whenever both are
    # installed; Tutela never runs it, and its absence leaves httpx's client untouched.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    try:
        from tutela.cli import main as run_cli
    except Exception as error:  # a broken installation: one line, never a traceback
        sys.stderr.write(
            f"internal error: tutela could not start ({type(error).__name__}: {error}). "
            "Reinstall it (make install) and report this if it persists.\n"
        )
        sys.exit(EXIT_INTERNAL)
    run_cli()


if __name__ == "__main__":
    main()
