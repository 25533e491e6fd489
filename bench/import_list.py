"""Time importing a 1,000,000-line PDQ text list into a fresh SQLite bank (target: ≤ 60 s).

Run: python bench/import_list.py [LINES]. Set TUTELA_DATABASE_URL to time PostgreSQL instead.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

from tutela.db import open_database
from tutela.indicators.banks import create_bank
from tutela.indicators.imports import import_file
from tutela.settings import Settings


def write_list(path: Path, lines: int) -> None:
    with open(path, "w") as handle:
        handle.write("# benchmark list: random PDQ hashes\n")
        for _ in range(lines):
            handle.write(secrets.token_hex(32) + "\n")


def main() -> None:
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "list.txt"
        write_list(listing, lines)
        settings = Settings(
            data_dir=Path(tmp) / "data", database_url=os.environ.get("TUTELA_DATABASE_URL")
        )
        database = open_database(settings)
        bank = f"bench-{secrets.token_hex(4)}"
        create_bank(database, bank)
        started = time.perf_counter()
        report = import_file(database, bank, listing, signal_type="pdq")
        first = time.perf_counter() - started
        started = time.perf_counter()
        again = import_file(database, bank, listing, signal_type="pdq")
        second = time.perf_counter() - started
        database.close()
    assert report.added == lines and again.added == 0
    label = "1m" if lines == 1_000_000 else str(lines)
    print(f"re-import (all present): {second:.1f} s")
    print(f"import-{label}: {first:.1f} s ({database.dialect})")


if __name__ == "__main__":
    main()
