"""`IsolatedPool`: a task that hangs, dies or eats memory costs one worker, never the pool.

The task function is defined at module top level so that it pickles under the spawn start method.
Each scenario runs once (one pool, one worker, tasks in order) and the tests read its results.
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import time
from collections.abc import Generator

import pytest
import uvloop

from tutela.errors import ConfigurationError, CorruptMedia, MediaError, TutelaError
from tutela.media import MediaLimits
from tutela.media.isolation import IsolatedPool, LoopPool

GIB = 1024**3
TIMEOUT_S = 3.0  # generous: CI machines are shared and a 256 MB allocation can take a while
LIMITS = MediaLimits(decode_timeout_s=TIMEOUT_S, worker_memory_bytes=GIB)


def misbehave(task: str) -> str:
    """Do what the task says: sleep, die, allocate, raise, or just answer."""
    kind, _, argument = task.partition(":")
    if kind == "sleep":
        time.sleep(float(argument))
    elif kind == "padded":  # a big task (its argument is padding) that takes a moment
        time.sleep(0.02)
    elif kind == "exit":
        os._exit(3)
    elif kind == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif kind == "allocate":
        block = bytearray(int(argument))
        return f"allocated {len(block)}"
    elif kind == "churn":  # what decoding files does to the heap, in page faults after the first
        _churn()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(10):
            _churn()
        return f"faults {resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}"
    elif kind == "media_error":
        raise CorruptMedia("this file is broken in a way the decoder recognised")
    elif kind == "bug":
        raise KeyError("a decoder defect")
    return f"done {task}"


def _churn() -> None:
    """Take four 1 MiB buffers at once and free them, as decoding one image does."""
    buffers = [bytearray(1 << 20) for _ in range(4)]
    del buffers


def run(
    tasks: list[str], *, workers: int = 1, limits: MediaLimits = LIMITS
) -> list[tuple[str, object]]:
    with IsolatedPool(misbehave, workers=workers, limits=limits) as pool:
        return list(pool.map_unordered(tasks))


@pytest.fixture(scope="module")
def hostile_run() -> dict[str, object]:
    tasks = [
        "sleep:30",
        "after-timeout",
        "exit",
        "after-exit",
        "sigkill",
        "after-sigkill",
        f"allocate:{2 * GIB}",
        "after-allocation",
        "media_error",
        "bug",
        "after-bug",
    ]
    results = run(tasks)
    assert [task for task, _ in results] == tasks  # one worker: in order, each exactly once
    return dict(results)


def _code(result: object) -> str:
    assert isinstance(result, TutelaError), result
    return result.code


def test_task_running_past_the_timeout_gets_a_timeout_error(hostile_run: dict[str, object]) -> None:
    assert _code(hostile_run["sleep:30"]) == "timeout"


def test_pool_goes_on_after_a_timeout(hostile_run: dict[str, object]) -> None:
    assert hostile_run["after-timeout"] == "done after-timeout"


def test_worker_that_exits_gives_a_typed_media_error(hostile_run: dict[str, object]) -> None:
    assert isinstance(hostile_run["exit"], MediaError)
    assert _code(hostile_run["exit"]) == "corrupt"


def test_pool_goes_on_after_a_worker_exits(hostile_run: dict[str, object]) -> None:
    assert hostile_run["after-exit"] == "done after-exit"


def test_worker_killed_by_sigkill_gives_a_typed_media_error(hostile_run: dict[str, object]) -> None:
    assert isinstance(hostile_run["sigkill"], MediaError)
    assert _code(hostile_run["sigkill"]) == "corrupt"


def test_pool_goes_on_after_a_worker_is_killed(hostile_run: dict[str, object]) -> None:
    assert hostile_run["after-sigkill"] == "done after-sigkill"


def test_task_allocating_past_the_worker_memory_cap_is_too_large(
    hostile_run: dict[str, object],
) -> None:
    assert _code(hostile_run[f"allocate:{2 * GIB}"]) == "too_large"


def test_pool_goes_on_after_a_task_hits_the_memory_cap(hostile_run: dict[str, object]) -> None:
    assert hostile_run["after-allocation"] == "done after-allocation"


def test_media_error_raised_by_a_task_is_that_task_s_result(
    hostile_run: dict[str, object],
) -> None:
    result = hostile_run["media_error"]
    assert isinstance(result, CorruptMedia)
    assert result.message == "this file is broken in a way the decoder recognised"


def test_unexpected_exception_in_a_task_becomes_corrupt(hostile_run: dict[str, object]) -> None:
    assert _code(hostile_run["bug"]) == "corrupt"
    assert hostile_run["after-bug"] == "done after-bug"


def test_allocation_under_the_memory_cap_succeeds() -> None:
    # The cap is the limit, not a ban on memory: 256 MiB fits under 1 GiB.
    assert run([f"allocate:{256 * 1024**2}"]) == [
        (f"allocate:{256 * 1024**2}", f"allocated {256 * 1024**2}")
    ]


def test_a_worker_keeps_its_heap_from_one_task_to_the_next() -> None:
    # Left to glibc's adaptive thresholds, these buffers were given back to the system after every
    # round and faulted in afresh the next (about 10,000 page faults here); a worker decoding file
    # after file spent a sixth of its time so.
    [(_, answer)] = run(["churn"])
    assert isinstance(answer, str)
    assert int(answer.removeprefix("faults ")) < 100, answer


def test_a_timeout_on_one_worker_does_not_stop_the_others() -> None:
    tasks = ["sleep:30", *[f"quick-{i}" for i in range(6)]]
    results = dict(run(tasks, workers=2))
    assert set(results) == set(tasks)
    assert _code(results["sleep:30"]) == "timeout"
    assert all(results[f"quick-{i}"] == f"done quick-{i}" for i in range(6))


def test_a_fresh_worker_gets_its_full_time_after_a_replacement() -> None:
    # Each replacement boots (imports numpy, Pillow) before its next task's clock starts, so a
    # task needing most of the timeout still succeeds right after a timeout.
    results = run(["sleep:30", "sleep:0.3", "exit", "sleep:0.3"])
    assert [result for _, result in results][1::2] == ["done sleep:0.3"] * 2


def test_tasks_sent_ahead_survive_a_crash_and_a_caller_that_stops_early() -> None:
    """A worker holds its next task while it works; when it dies, that task goes to another
    worker unharmed. A caller that stops iterating leaves no stray answer for the next call."""
    with IsolatedPool(misbehave, workers=2, limits=LIMITS) as pool:
        tasks = ["exit", *[f"small-{n}" for n in range(6)]]
        results = dict(pool.map_unordered(tasks))
        assert _code(results["exit"]) == CorruptMedia.code
        assert all(results[f"small-{n}"] == f"done small-{n}" for n in range(6))
        stream = pool.map_unordered(["sleep:0.3", "sleep:0.3", "a", "b"])
        assert isinstance(stream, Generator)  # map_unordered is a generator: closing it is allowed
        next(stream)
        stream.close()  # answers still on their way belong to tasks nobody waits for
        assert dict(pool.map_unordered(["next-call"])) == {"next-call": "done next-call"}


async def run_on_loop(tasks: list[str], *, workers: int = 2) -> list[object]:
    """Every task at once through a LoopPool, as concurrent requests would."""
    async with LoopPool(misbehave, workers=workers, limits=LIMITS) as pool:
        results = await asyncio.gather(*(pool.run(task) for task in tasks))
        assert pool.waiting == 0 and pool.working
        return list(results)


def test_the_loop_driven_pool_answers_each_request_and_survives_what_the_threaded_one_does() -> (
    None
):
    tasks = ["sleep:30", "exit", "sigkill", f"allocate:{2 * GIB}", "media_error", "bug"]
    tasks += [f"quick-{i}" for i in range(12)]
    results = dict(zip(tasks, asyncio.run(run_on_loop(tasks)), strict=True))
    assert [_code(results[t]) for t in tasks[:6]] == [
        "timeout",
        "corrupt",
        "corrupt",
        "too_large",
        "corrupt",
        "corrupt",
    ]
    assert all(results[f"quick-{i}"] == f"done quick-{i}" for i in range(12))


def test_a_worker_killed_while_idle_is_replaced_and_the_loop_stays_quiet() -> None:
    # Killed from outside (an operator, the OOM killer, a signal to the whole process group)
    # while it had no task: it once left the loop reading its closed socket in a busy loop.
    async def scenario() -> tuple[int, object, bool]:
        async with LoopPool(misbehave, workers=1, limits=LIMITS) as pool:
            (idle,) = pool._workers
            idle.process.kill()
            idle.process.join()
            ticks = 0
            started = time.process_time()
            for _ in range(20):  # 1 s of the loop's own time, as the API would spend it
                await asyncio.sleep(0.05)
                ticks += 1
            busy_s = time.process_time() - started
            answer = await pool.run("after")
            return ticks, answer, busy_s < 0.5 and pool._workers[0] is not idle

    ticks, answer, quiet_and_replaced = asyncio.run(scenario())
    assert ticks == 20 and answer == "done after"
    assert quiet_and_replaced


def test_a_loop_driven_pool_that_cannot_replace_a_worker_fails_every_request_clearly() -> None:
    async def scenario() -> tuple[object, object, bool, object]:
        async with LoopPool(misbehave, workers=1, limits=LIMITS) as pool:
            spawn = pool._spawn

            def spawn_dying() -> object:  # from now on, a fresh worker dies before it is ready
                worker = spawn()
                worker.process.kill()
                return worker

            pool._spawn = spawn_dying  # type: ignore[method-assign,assignment]
            crashed, waiting = await asyncio.gather(
                pool.run("exit"), pool.run("sleep:0.1"), return_exceptions=True
            )
            for _ in range(200):
                if not pool.working:
                    break
                await asyncio.sleep(0.05)
            try:
                later: object = await pool.run("later")
            except ConfigurationError as error:
                later = error
            return crashed, waiting, pool.working, later

    crashed, waiting, working, later = asyncio.run(scenario())
    assert _code(crashed) == "corrupt"  # its own task: the worker died on it
    assert isinstance(waiting, ConfigurationError) and not working  # sent ahead, then stranded
    assert isinstance(later, ConfigurationError) and "failed to start" in later.message


def test_the_loop_driven_pool_keeps_big_tasks_whole_under_uvloop() -> None:
    """uvloop (what uvicorn runs) makes a socket it watches non-blocking: the pool must still send
    each task whole, however far ahead of the worker, or the worker reads a garbled stream."""
    tasks = [f"padded:{n:04d}{'x' * 150_000}" for n in range(16)]
    results = uvloop.run(run_on_loop(tasks))
    assert results == [f"done {task}" for task in tasks]
