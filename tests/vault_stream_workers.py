"""A video worker killed part-way through deciding a matched video (the target of a spawned test
process, kept apart from the test module so that the process imports little). Not a test module."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable
from typing import Any

from tutela.db.chunks import write_chunks
from tutela.db.database import Database, open_database
from tutela.detection import held_payloads, video_queue
from tutela.detection.bases import DetectionGate
from tutela.detection.queue import claim_jobs
from tutela.detection.video_items import hash_video_task
from tutela.detection.video_queue import decide_video_job
from tutela.indicators.matcher import Matcher
from tutela.master_key import load_master_key
from tutela.settings import Settings

CHUNK_BYTES = 16 * 1024


def decide_one_video(settings: Settings, database: Database) -> bool:
    """Claim the video job and decide it as a worker's video thread does (hashed in this
    process), with the vault key sealing what is held."""
    matcher = Matcher(database)
    matcher.load()
    (job,) = claim_jobs(database, "test", 1, settings.job_lease_s, videos=True)
    return decide_video_job(
        database,
        matcher,
        job,
        lambda path: hash_video_task(str(path), limits=settings.media),
        data_dir=settings.data_dir,
        worker="test",
        gate=DetectionGate(database),
        master_key=load_master_key(settings),
    )


def killed_while_deciding(settings: Settings, when: str) -> None:
    """Decide the video job, and SIGKILL this process part-way through holding the file
    (`when` = "holding": two chunks written, nothing committed) or after the verdict committed,
    before the spooled file is removed (`when` = "committed")."""

    def die(*_: object) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    if when == "holding":
        write = write_chunks  # held_payloads' own name for it is replaced below

        def write_then_die(
            session: Any, table: Any, owner: str, owner_id: int, chunks: Iterable[bytes]
        ) -> tuple[int, int]:
            some = iter(chunks)
            write(session, table, owner, owner_id, [next(some), next(some)])
            die()
            raise AssertionError("unreachable")

        setattr(held_payloads, "write_chunks", write_then_die)  # noqa: B010
    else:
        setattr(video_queue, "remove_spooled", die)  # noqa: B010
    setattr(held_payloads, "STREAM_CHUNK_BYTES", CHUNK_BYTES)  # noqa: B010
    decide_one_video(settings, open_database(settings))
