"""`tutela` and `python -m tutela`: a launcher that imports the CLI only when it runs.

Worker processes started with multiprocessing's spawn method re-import the main script; keeping
this module light means a decoding worker does not load the whole CLI (database, web, index).
"""

from __future__ import annotations


def main() -> None:
    from tutela.cli import main as run_cli

    run_cli()


if __name__ == "__main__":
    main()
