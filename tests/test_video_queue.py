"""Video uploads go through the durable queue: answered 202 `queued` once spooled and stored, hashed
by the detection workers a bounded number at once per node, their file removed only after the
verdict is committed, so that a worker killed meanwhile leaves the video to the next one."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import multiprocessing as mp
import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from provider_fixtures import in_process_client, make_key
from tutela.db.database import Database
from tutela.detection.items import get_item
from tutela.detection.models import Item, Job
from tutela.detection.queue import claim_jobs
from tutela.detection.video_queue import (
    QUEUE_DIRECTORY,
    NodeSlots,
    keep_for_workers,
    sweep_orphans,
)
from tutela.indicators import banks
from tutela.indicators.video_banks import add_video_indicator
from tutela.settings import Settings
from tutela.signals.vpdq import vpdq_of_file
from video_scenes import pan, slideshow_frames, video, zoom
from video_workers import decide_videos, run_worker_process, video_hashing

MOVIE = slideshow_frames(["astronaut", "coffee"]) + zoom("rocket", 2)


def post(settings: Settings, database: Database, path: Path, item_id: str, key: str = "") -> Any:
    async def run() -> Any:
        async with in_process_client(settings, database, key) as client:
            return await client.post(
                "/v1/items",
                files={"file": (path.name, path.read_bytes())},
                data={"metadata": json.dumps({"item_id": item_id})},
            )

    return asyncio.run(run())


def queued_files(settings: Settings) -> list[Path]:
    return sorted((settings.data_dir / QUEUE_DIRECTORY).glob("*.video"))


def jobs(database: Database) -> list[Job]:
    with database.reader() as session:
        return list(session.scalars(select(Job)))


def test_a_video_upload_is_answered_queued_and_its_file_waits_for_the_verdict(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    banks.create_bank(database, "videos")
    indicator = add_video_indicator(
        database, "videos", vpdq_of_file(video(tmp_path / "banked.mp4", MOVIE)).frames
    )
    answer = post(settings, database, video(tmp_path / "copy.mp4", MOVIE), "copy")
    assert answer.status_code == 202 and answer.json()["status"] == "queued"
    [file] = queued_files(settings)
    [job] = jobs(database)
    assert job.spool_path == str(file.relative_to(settings.data_dir))
    assert get_item(database, answer.json()["id"]).status == "queued"

    assert decide_videos(settings, database) == 1
    item = get_item(database, answer.json()["id"])
    assert item.verdict == "review"
    assert [m["indicator_id"] for m in item.matches] == [indicator]
    assert queued_files(settings) == [] and jobs(database) == []


def test_a_replayed_video_keeps_one_file_and_one_job(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    path = video(tmp_path / "clip.mp4", pan("coffee", 2))
    key = make_key(database)
    first = post(settings, database, path, "clip", key)
    again = post(settings, database, path, "clip", key)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"]
    assert len(queued_files(settings)) == 1 and len(jobs(database)) == 1


def test_a_worker_killed_while_hashing_a_video_leaves_it_to_the_next_worker(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    settings = dataclasses.replace(settings, job_lease_s=2.0)
    answer = post(settings, database, video(tmp_path / "long.mp4", pan("chelsea", 20)), "long")
    ident = answer.json()["id"]
    worker = mp.get_context("spawn").Process(target=run_worker_process, args=(settings,))
    worker.start()
    try:
        deadline = time.monotonic() + 120
        while not any(job.state == "leased" for job in jobs(database)):
            assert worker.is_alive() and time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        worker.kill()
        worker.join()
    # Killed with the video claimed: nothing of it is lost.
    assert get_item(database, ident).status != "done", "the worker finished before its kill"
    assert len(queued_files(settings)) == 1 and len(jobs(database)) == 1

    second = video_hashing(settings, database, worker="second")
    deadline = time.monotonic() + 60
    while not second.decided:  # once the killed worker's lease has run out
        assert time.monotonic() < deadline
        second.work_once()
        time.sleep(0.2)
    assert get_item(database, ident).verdict == "no_match"
    assert queued_files(settings) == [] and jobs(database) == []


def test_the_node_hashes_no_more_videos_at_once_than_its_slots(tmp_path: Path) -> None:
    slots = NodeSlots(tmp_path / "slots", 2)
    first, second = slots.try_acquire(), slots.try_acquire()
    assert first is not None and second is not None
    assert slots.try_acquire() is None  # another worker process of the node finds none free
    first.close()
    third = slots.try_acquire()
    assert third is not None
    second.close()
    third.close()


def test_a_job_whose_file_this_node_lacks_is_handed_back_uncounted(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    post(settings, database, video(tmp_path / "clip.mp4", pan("coffee", 2)), "clip")
    [file] = queued_files(settings)
    elsewhere = tmp_path / "elsewhere.video"
    file.rename(elsewhere)  # as a worker on another machine sees the spool
    assert decide_videos(settings, database) == 0
    [job] = jobs(database)
    assert job.attempts == 0 and job.leased_by is None
    with database.reader() as session:
        assert session.scalar(select(Item.status)) != "done"
    assert claim_jobs(database, "soon", 1, 30, videos=True) == []  # handed back for a while
    elsewhere.rename(file)


def test_a_spooled_file_no_job_names_is_swept_and_a_queued_one_kept(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    post(settings, database, video(tmp_path / "clip.mp4", pan("coffee", 2)), "clip")
    [queued] = queued_files(settings)
    orphan_source = tmp_path / "orphan.mp4"
    orphan_source.write_bytes(b"left by an upload that never committed")
    orphan = settings.data_dir / keep_for_workers(orphan_source, settings.data_dir)
    old = time.time() - 7200
    for path in (queued, orphan):
        os.utime(path, (old, old))
    assert sweep_orphans(database, settings.data_dir) == 1
    assert queued_files(settings) == [queued]
