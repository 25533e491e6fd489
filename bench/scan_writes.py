"""Files per second through a backlog scan's database work, as `tutela scan --ray`'s driver does
it a batch at a time: items admitted, verdicts recorded by `record_outcomes` (one transaction per
batch, guarded by each item's status) and read back; no hashing, no matching. It bounds a scan
however many machines hash (bench/scan.py's projection).

    python bench/scan_writes.py [--files N] [--batch B] [--drivers D]
                                (default 5,120 files, batches of 256, 1 driver)

SQLite in a temporary data directory, and PostgreSQL in a fresh database on the server of
TUTELA_TEST_DATABASE_URL when it is set (dropped afterwards). With --drivers D, D processes
(`tutela scan --shard K/D` drivers) each write their share of the files at once, and the rate is
all files over the time from their common start to the last one's end.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from multiprocessing.synchronize import Barrier
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import fresh_postgres_database
from tutela.db.database import open_database
from tutela.detection.bases import DetectionGate
from tutela.detection.scan_batches import admit, item_views
from tutela.detection.scan_sources import ListedFile
from tutela.detection.verdicts import Outcome, gated, record_outcomes
from tutela.settings import Settings


def verdict_write_rate(
    settings: Settings,
    files: int = 5120,
    batch: int = 256,
    share: int = 0,
    start_at: Barrier | None = None,
) -> float:
    """Files per second through the driver's database work, a batch of `batch` at a time: their
    items found or made (`admit`), their verdicts recorded (`record_outcomes`) and read back for
    the output (`item_views`); each no_match with a PDQ hash, as most of a backlog is. `share`
    names this driver's files; `start_at`, when given, is passed with the other drivers once the
    database is open."""
    database = open_database(settings)
    try:
        decision = DetectionGate(database).decide(None)
        listed = [
            ListedFile(f"/bench/{share}/{i:07}.jpg", f"scan:/bench/{share}/{i:07}.jpg:1:1", 1)
            for i in range(files)
        ]
        if start_at is not None:
            start_at.wait()
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


def drivers_rate(settings: Settings, files: int, batch: int, drivers: int) -> float:
    """Files per second of `drivers` processes each writing files/drivers files at once."""
    if drivers == 1:
        return verdict_write_rate(settings, files, batch)
    open_database(settings).close()  # the schema, made once before the drivers start
    context = multiprocessing.get_context("spawn")
    start_at = context.Barrier(drivers + 1)  # the drivers, with their databases open, and this
    each = files // drivers
    processes = [
        context.Process(target=verdict_write_rate, args=(settings, each, batch, k, start_at))
        for k in range(drivers)
    ]
    for process in processes:
        process.start()
    start_at.wait(timeout=120)
    started = time.perf_counter()
    for process in processes:
        process.join()
        assert process.exitcode == 0, "a driver failed"
    return each * drivers / (time.perf_counter() - started)


def write_rates(
    root: Path, files: int = 5120, batch: int = 256, drivers: int = 1
) -> dict[str, float]:
    """The drivers' rate on SQLite under `root`, and on PostgreSQL (a fresh database on the
    server of TUTELA_TEST_DATABASE_URL) when it is set."""
    sqlite = Settings(data_dir=root / "writes-sqlite")
    rates = {"sqlite": drivers_rate(sqlite, files, batch, drivers)}
    server = os.environ.get("TUTELA_TEST_DATABASE_URL")
    if server:
        with fresh_postgres_database(server) as url:
            settings = Settings(data_dir=root / "writes-pg", database_url=url)
            rates["postgresql"] = drivers_rate(settings, files, batch, drivers)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5120)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--drivers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scan-writes-") as temp:
        rates = write_rates(Path(temp), args.files, args.batch, args.drivers)
        for database, rate in rates.items():
            print(
                f"{database:<12} {rate:8,.0f} files/s (batches of {args.batch}, "
                f"{args.drivers} driver{'s' if args.drivers > 1 else ''})"
            )


if __name__ == "__main__":
    main()
