"""Files per second through a backlog scan's database work, as `tutela scan --ray`'s driver does
it a batch at a time: items admitted, verdicts recorded by `record_outcomes` (one transaction per
batch, guarded by each item's status) and read back; no hashing, no matching. It bounds a scan
however many machines hash (bench/scan.py's projection).

    python bench/scan_writes.py [--files N] [--batch B]   (default 5,120 files, batches of 256)

SQLite in a temporary data directory, and PostgreSQL in a fresh database on the server of
TUTELA_TEST_DATABASE_URL when it is set (dropped afterwards).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import fresh_postgres_database
from tutela.db.database import open_database
from tutela.detection.bases import DetectionGate
from tutela.detection.scan_batches import admit, item_views
from tutela.detection.scan_sources import ListedFile
from tutela.detection.verdicts import Outcome, gated, record_outcomes
from tutela.settings import Settings


def verdict_write_rate(settings: Settings, files: int = 5120, batch: int = 256) -> float:
    """Files per second through the driver's database work, a batch of `batch` at a time: their
    items found or made (`admit`), their verdicts recorded (`record_outcomes`) and read back for
    the output (`item_views`); each no_match with a PDQ hash, as most of a backlog is."""
    database = open_database(settings)
    try:
        decision = DetectionGate(database).decide(None)
        listed = [
            ListedFile(f"/bench/{i:07}.jpg", f"scan:/bench/{i:07}.jpg:1:1", 1) for i in range(files)
        ]
        started = time.perf_counter()
        for start in range(0, files, batch):
            admitted = admit(database, listed[start : start + batch], {"source": "scan"})
            pdq = {"pdq": {"hash": f"{start:064x}", "quality": 100}}
            outcomes = [(i, gated(Outcome(pdq, []), decision)) for i, _ in admitted.pending]
            decided = record_outcomes(database, outcomes)
            views = item_views(database, decided)
            assert len(views) == len(admitted.pending) == len(decided), "not all decided"
        return files / (time.perf_counter() - started)
    finally:
        database.close()


def write_rates(root: Path, files: int = 5120, batch: int = 256) -> dict[str, float]:
    """`verdict_write_rate` on SQLite under `root`, and on PostgreSQL (a fresh database on the
    server of TUTELA_TEST_DATABASE_URL) when it is set."""
    rates = {"sqlite": verdict_write_rate(Settings(data_dir=root / "writes-sqlite"), files, batch)}
    server = os.environ.get("TUTELA_TEST_DATABASE_URL")
    if server:
        with fresh_postgres_database(server) as url:
            settings = Settings(data_dir=root / "writes-pg", database_url=url)
            rates["postgresql"] = verdict_write_rate(settings, files, batch)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5120)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scan-writes-") as temp:
        for database, rate in write_rates(Path(temp), args.files, args.batch).items():
            print(f"{database:<12} {rate:8,.0f} files/s (batches of {args.batch})")


if __name__ == "__main__":
    main()
