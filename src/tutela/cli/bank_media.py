"""`tutela bank add-media BANK FILE…`: bank images this node holds, with their standard crops.

Each file is hashed in an isolated worker process (as `tutela hash` does: memory and time
limits, a hostile file kills a worker, not the command): MD5, SHA-256 and the exact PDQ, plus the
exact PDQs of its standard crops (tutela.signals.crops), stored as the PDQ indicator's variants
so that crops of the image match it. The images are banked in one transaction, audited.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tutela.cli.app import print_json, stderr_is_terminal
from tutela.cli.audit import operator_actor
from tutela.cli.bank import bank_app
from tutela.cli.db import opened_database
from tutela.cli.media_hashing import expanded, hashed_media
from tutela.cli.progress import progress_bar
from tutela.errors import TutelaError
from tutela.signals.media_indicator import MediaIndicator


@bank_app.command("add-media")
def add_media_command(
    name: Annotated[str, typer.Argument(help="The bank to add to.")],
    paths: Annotated[
        list[Path], typer.Argument(help="Image files or directories (searched recursively).")
    ],
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Worker processes (default: all cores)."),
    ] = None,
) -> None:
    """Bank images: each one's MD5, SHA-256 and exact PDQ, the PDQ with the exact PDQs of 14
    standard crops (the centre keeping 95 and 90 % of each side, each corner 97, 94 and 91 %) as
    its variants, so that a copy cropped by up to about 10 % matches too; a match names the
    variant (e.g. crop94-tl).
    Each variant is one more hash in the index: all count in the false-match budget.

    Exit code 0 when every file was banked, 1 when some were not (their lines say why; the
    others are banked).
    """
    files = list(expanded(paths))
    hashed: list[MediaIndicator] = []
    failed = 0
    with progress_bar(len(files), "hashing", enabled=stderr_is_terminal()) as advance:
        for path, result in hashed_media(paths, jobs):
            advance()
            if isinstance(result, MediaIndicator) and result.error is None:
                hashed.append(result)
            else:
                failed += 1
            _emit(path, result, json_lines)
    with opened_database() as database:
        from tutela.indicators.media_banks import add_media

        banked = add_media(database, name, hashed, actor=operator_actor())
    if json_lines:
        print_json(banked.as_dict() | {"failed": failed})
    else:
        sys.stdout.write(
            f"{banked.images} images banked in {name}: {banked.added} hashes added, "
            f"{banked.already_present} already present, {banked.variants} crop variants; "
            f"{failed} files failed\n"
        )
    if failed:
        raise typer.Exit(1)


def _emit(path: str, result: MediaIndicator | TutelaError, json_lines: bool) -> None:
    if isinstance(result, MediaIndicator) and result.error is None:
        if json_lines:
            signals = {
                "pdq": {"hash": result.pdq, "quality": result.quality},
                "md5": result.md5,
                "sha256": result.sha256,
            }
            print_json({"path": path, "signals": signals, "variants": len(result.variants)})
        else:
            sys.stdout.write(
                f"{result.quality:>7}  {result.pdq}  {len(result.variants):>2} variants  {path}\n"
            )
        return
    error = result.error if isinstance(result, MediaIndicator) else result
    assert error is not None
    if json_lines:
        print_json({"path": path, "error": error.as_dict()})
    else:
        sys.stdout.write(f"{'-':>7}  {'error: ' + error.code:<64}  {path}: {error.message}\n")
