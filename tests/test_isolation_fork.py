"""`IsolatedPool(fork=True)` (what `tutela hash` uses): forked workers isolate a hostile task as
spawned ones do, preload their modules before the first task, and a caller running other threads
gets spawned workers all the same, as does a caller whose address space is already large (a
forked worker keeps it, and it counts against the worker's memory cap)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest

from test_media_isolation import GIB, misbehave
from tutela.errors import CorruptMedia, DecodeTimeout, MediaTooLarge
from tutela.media.isolation import IsolatedPool
from tutela.media.limits import MediaLimits

LIMITS = MediaLimits(decode_timeout_s=3.0, worker_memory_bytes=GIB)


@pytest.fixture
def small_caller(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The caller counts as small, as `tutela hash` is (a pytest process that has run other tests
    may have grown past what a forked worker can keep)."""
    monkeypatch.setattr("tutela.media.isolation._address_space_bytes", lambda: 0)
    yield


@pytest.mark.usefixtures("small_caller")
def test_a_forked_pool_contains_hangs_crashes_and_memory_hogs() -> None:
    tasks = ["sleep:30", "after-timeout", "exit", "after-exit", f"allocate:{2 * GIB}", "last"]
    with IsolatedPool(misbehave, workers=1, limits=LIMITS, fork=True) as pool:
        assert pool._context.get_start_method() == "fork"
        results = dict(pool.map_unordered(tasks))
    assert isinstance(results["sleep:30"], DecodeTimeout)
    assert isinstance(results["exit"], CorruptMedia)
    assert isinstance(results[f"allocate:{2 * GIB}"], MediaTooLarge)
    for task in ("after-timeout", "after-exit", "last"):
        assert results[task] == f"done {task}"


def preloaded(task: str) -> str:
    """Whether the worker had imported the module named by the task before its first task."""
    return str(task in sys.modules)


@pytest.mark.usefixtures("small_caller")
def test_a_forked_worker_preloads_before_its_first_task() -> None:
    module = "tabnanny"  # a standard module nothing here imports
    assert module not in sys.modules
    with IsolatedPool(preloaded, workers=1, limits=LIMITS, preload=(module,), fork=True) as pool:
        assert list(pool.map_unordered([module])) == [(module, "True")]
    assert module not in sys.modules  # imported in the worker only


def test_a_caller_with_threads_gets_spawned_workers() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        pool: IsolatedPool[str, str] = IsolatedPool(misbehave, workers=1, limits=LIMITS, fork=True)
        assert pool._context.get_start_method() == "spawn"
        with pool:
            assert list(pool.map_unordered(["hello"])) == [("hello", "done hello")]
    finally:
        stop.set()
        thread.join()


def test_a_caller_whose_address_space_is_large_gets_spawned_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("tutela.media.isolation._address_space_bytes", lambda: GIB // 2)
    pool: IsolatedPool[str, str] = IsolatedPool(misbehave, workers=1, limits=LIMITS, fork=True)
    assert pool._context.get_start_method() == "spawn"
    with pool:
        assert list(pool.map_unordered(["hello"])) == [("hello", "done hello")]
