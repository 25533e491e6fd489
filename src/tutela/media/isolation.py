"""Run decoding work in worker processes with a memory cap and a wall-clock limit per task.

A hostile file may hang or blow up a decoder; here it costs one worker (killed and replaced) and the
task gets a typed error, while the node goes on.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import resource
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Generic, TypeVar

from tutela.errors import (
    ConfigurationError,
    CorruptMedia,
    DecodeTimeout,
    MediaTooLarge,
    TutelaError,
)
from tutela.media.limits import MediaLimits

T = TypeVar("T")
R = TypeVar("R")

# A worker says so once it has imported everything and set its limits. Until then it gets no task:
# a task's clock must not run while a fresh worker is still importing numpy and Pillow, or on a busy
# machine a short timeout would fail good files after every replacement.
_READY = "ready"
_BOOT_TIMEOUT_S = 60.0


def _worker_main(func: Callable[[T], R], conn: Connection, memory_bytes: int) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        # Raising the soft limit above the hard one fails; the worker would die before any task.
        memory_bytes = min(memory_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, hard))
    conn.send(_READY)
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        try:
            result: object = func(task)
        except TutelaError as error:
            result = error
        except MemoryError:
            result = MediaTooLarge("decoding needed more memory than a worker may use")
        except Exception as error:  # a decoder defect must not print a traceback or kill the pool
            result = CorruptMedia(f"the decoder failed on this file ({type(error).__name__})")
        conn.send(result)


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    conn: Connection
    task: object = None
    started: float = 0.0
    busy: bool = field(default=False)


class IsolatedPool(Generic[T, R]):
    """A pool of worker processes applying `func` (a picklable top-level function) to tasks.

    `func` may raise TutelaError; that error is the task's result. A worker that runs past
    `limits.decode_timeout_s` is killed (DecodeTimeout); one that dies is replaced (CorruptMedia).
    """

    def __init__(self, func: Callable[[T], R], *, workers: int, limits: MediaLimits) -> None:
        self._func = func
        self._size = max(1, workers)
        self._limits = limits
        self._context = mp.get_context("spawn")
        self._workers: list[_Worker] = []

    def __enter__(self) -> IsolatedPool[T, R]:
        self._workers = [self._spawn() for _ in range(self._size)]
        try:
            for worker in self._workers:
                self._await_ready(worker)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self._workers:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
        deadline = time.monotonic() + 2.0
        for worker in self._workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        self._workers = []

    def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_worker_main,
            args=(self._func, child, self._limits.worker_memory_bytes),
            daemon=True,
        )
        process.start()
        child.close()
        return _Worker(process=process, conn=parent)

    def _await_ready(self, worker: _Worker) -> None:
        try:
            if worker.conn.poll(_BOOT_TIMEOUT_S) and worker.conn.recv() == _READY:
                return
        except (EOFError, OSError):
            pass
        # Not a property of any file: the environment cannot run workers (imports, limits).
        raise ConfigurationError(
            "a decoding worker failed to start; check TUTELA_WORKER_MEMORY_BYTES and the install"
        )

    def _replace(self, worker: _Worker) -> _Worker:
        worker.process.kill()
        worker.process.join()
        worker.conn.close()
        fresh = self._spawn()
        self._workers[self._workers.index(worker)] = fresh
        self._await_ready(fresh)
        return fresh

    def _dispatch(self, worker: _Worker, task: T) -> None:
        try:
            worker.conn.send(task)
        except (OSError, ValueError):
            # It died while idle (killed from outside): the task goes to its replacement.
            worker = self._replace(worker)
            worker.conn.send(task)
        worker.task = task
        worker.started = time.monotonic()
        worker.busy = True

    def map_unordered(self, tasks: Iterable[T]) -> Iterator[tuple[T, R | TutelaError]]:
        """Yield (task, result or TutelaError) as tasks finish, in completion order. `tasks` is
        drawn lazily, only as workers become free; with no task, no worker is needed."""
        pending: deque[T] = deque()
        source = iter(tasks)
        exhausted = False
        while True:
            while not exhausted and len(pending) < self._size:
                try:
                    pending.append(next(source))
                except StopIteration:
                    exhausted = True
            if pending and not self._workers:
                raise RuntimeError("IsolatedPool must be used as a context manager")
            for worker in list(self._workers):
                if not worker.busy and pending:
                    self._dispatch(worker, pending.popleft())
            busy = [w for w in self._workers if w.busy]
            if not busy:
                if exhausted and not pending:
                    return
                continue
            timeout = self._limits.decode_timeout_s
            now = time.monotonic()
            next_deadline = min(w.started + timeout for w in busy)
            ready = wait([w.conn for w in busy], timeout=max(0.0, next_deadline - now))
            for worker in busy:
                task: T = worker.task  # type: ignore[assignment]
                if worker.conn in ready:
                    try:
                        result: R | TutelaError = worker.conn.recv()
                    except (EOFError, OSError):
                        result = CorruptMedia("the decoder crashed on this file")
                        self._replace(worker)
                        yield task, result
                        continue
                    worker.busy = False
                    yield task, result
                elif time.monotonic() - worker.started >= timeout:
                    self._replace(worker)
                    yield task, DecodeTimeout(f"decoding took longer than {timeout:g} s")
