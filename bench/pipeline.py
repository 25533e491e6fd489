"""Items per second from upload to verdict through a running node's API, against raw hashing of
the same files in the same run with the same number of hashing processes.

    python bench/pipeline.py [N]      (default 300 drawn JPEGs; BENCH_WORKERS, default 2)

Two sizes are measured: 1600×1200 (a phone photo as platforms receive it), then 640×480, where
hashing is so cheap that the per-upload cost of HTTP is all that shows; the last line is that,
the harder case.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from provider_fixtures import drawn_image, jpeg, make_key, running_node
from tutela.db.database import open_database
from tutela.detection.hasher import Hasher
from tutela.media.limits import MediaLimits
from tutela.settings import Settings

SIZES = ((1600, 1200), (640, 480))


def files(count: int, size: tuple[int, int]) -> list[bytes]:
    return [jpeg(drawn_image(i, size=640).resize(size), 90) for i in range(count)]


def raw_rate(data: list[bytes], workers: int) -> float:
    with Hasher(MediaLimits(), workers=workers) as hasher:
        start = time.perf_counter()
        done = sum(1 for _ in hasher.hash_many(enumerate(data)))
        return done / (time.perf_counter() - start)


def pipeline_rate(data: list[bytes], workers: int, tmp: Path) -> tuple[float, float]:
    settings = Settings(data_dir=tmp / "data")
    database = open_database(settings)
    key = make_key(database)
    with running_node(settings, tmp, workers=workers) as node:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=node.url, headers=headers, timeout=60) as client:

            def submit(pair: tuple[int, bytes]) -> int:
                meta = json.dumps({"item_id": f"bench-{pair[0]}"})
                answer = client.post(
                    "/v1/items", files={"file": ("f.jpg", pair[1])}, data={"metadata": meta}
                )
                return int(answer.json()["id"])

            start = time.perf_counter()
            with ThreadPoolExecutor(8) as pool:
                ids = list(pool.map(submit, enumerate(data)))
            accepted = time.perf_counter() - start
            while True:
                with database.reader() as session:
                    from sqlalchemy import func, select

                    from tutela.detection.models import Item

                    pending = session.scalar(
                        select(func.count()).where(Item.id.in_(ids), Item.status != "done")
                    )
                if not pending:
                    break
                time.sleep(0.05)
            elapsed = time.perf_counter() - start
    database.close()
    return len(data) / elapsed, len(data) / accepted


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    workers = int(os.environ.get("BENCH_WORKERS", "2"))
    for width, height in SIZES:
        data = files(count, (width, height))
        raw = raw_rate(data, workers)
        with tempfile.TemporaryDirectory() as tmp:
            end_to_end, intake = pipeline_rate(data, workers, Path(tmp))
        label = "pipeline" if (width, height) == SIZES[-1] else f"pipeline-{width}x{height}"
        print(f"files: {count} JPEGs {width}x{height}, {workers} hashing processes", flush=True)
        print(f"upload intake (202 answers): {intake:.1f} items/s")
        print(
            f"{label}: tutela {end_to_end:.1f} items/s end-to-end vs {raw:.1f} items/s raw "
            f"hashing = {end_to_end / raw:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
