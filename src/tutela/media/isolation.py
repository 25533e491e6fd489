"""Run decoding work in worker processes with a memory cap and a wall-clock limit per task.

A hostile file may hang or blow up a decoder; here it costs one worker (killed and replaced) and the
task gets a typed error, while the node goes on.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import resource
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import ForkingPickler
from typing import Final, Generic, TypeVar

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
# A worker is sent its next tasks while it still works on one, so that it never waits for the
# parent between tasks, however late the parent (a busy API process) comes back to it: up to
# AHEAD_TASKS of them, together at most AHEAD_BYTES pickled, which the socket holds without making
# the send wait for the worker to read; a bigger task goes only to a worker that is free.
AHEAD_BYTES = 192 * 1024
AHEAD_TASKS = 8


class Idle:
    """The type of IDLE."""


# What a task source that is fed over time yields when it has no task for now (see map_unordered).
IDLE: Final = Idle()
Waitable = Connection | socket.socket


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
    # Tasks sent and not answered, oldest first, each with its pickled form; the first is being
    # worked on since `started`.
    tasks: deque[tuple[object, memoryview]] = field(default_factory=deque)
    started: float = 0.0
    dead: bool = False  # killed with tasks in flight; replaced before its next task


class IsolatedPool(Generic[T, R]):
    """A pool of worker processes applying `func` (a picklable top-level function) to tasks.

    `func` may raise TutelaError; that error is the task's result. A worker that runs past
    `limits.decode_timeout_s` on a task is killed (DecodeTimeout); one that dies is replaced
    (CorruptMedia). The task a worker was sent ahead goes to another one, unharmed.
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

    def _kill(self, worker: _Worker) -> None:
        worker.process.kill()
        worker.process.join()
        worker.conn.close()

    def _replace(self, worker: _Worker) -> _Worker:
        self._kill(worker)
        fresh = self._spawn()
        self._workers[self._workers.index(worker)] = fresh
        self._await_ready(fresh)
        return fresh

    def _send(self, worker: _Worker, item: tuple[object, memoryview]) -> _Worker | None:
        """Send a task; the worker that took it (a replacement, maybe), or None when it could
        not go (it stays the caller's)."""
        if worker.dead:
            worker = self._replace(worker)
        try:
            worker.conn.send_bytes(item[1])
        except (OSError, ValueError):
            if worker.tasks:
                return None  # it died at work: reading its answer will tell, and replace it
            # It died while idle (killed from outside): the task goes to its replacement.
            worker = self._replace(worker)
            worker.conn.send_bytes(item[1])
        if not worker.tasks:
            worker.started = time.monotonic()
        worker.tasks.append(item)
        return worker

    def _dispatch(self, pending: deque[tuple[object, memoryview]]) -> None:
        """Idle workers first, a task each; then small tasks go ahead to the busy ones, one
        round at a time, so that they share what is pending."""
        for depth in range(1, AHEAD_TASKS + 2):
            for index in range(len(self._workers)):
                if not pending:
                    return
                worker = self._workers[index]
                if len(worker.tasks) >= depth:
                    continue
                if worker.tasks:
                    ahead = sum(len(task[1]) for task in list(worker.tasks)[1:])
                    if ahead + len(pending[0][1]) > AHEAD_BYTES:
                        continue
                if self._send(worker, pending[0]) is not None:
                    pending.popleft()

    def _wants_more(self, pending: deque[tuple[object, memoryview]]) -> bool:
        """Draw tasks while some worker may take one now or ahead: at least one per worker, and
        more while what is drawn is small."""
        if len(pending) < self._size:
            return True
        drawn = sum(len(task[1]) for task in pending)
        return len(pending) < self._size * (AHEAD_TASKS + 1) and drawn < self._size * AHEAD_BYTES

    def map_unordered(
        self, tasks: Iterable[T | Idle], *, wake: Waitable | None = None
    ) -> Iterator[tuple[T, R | TutelaError]]:
        """Yield (task, result or TutelaError) as tasks finish, in completion order. `tasks` is
        drawn lazily, only as workers become free; with no task, no worker is needed.

        A source fed over time (requests arriving) yields IDLE when it has nothing for now, and
        makes `wake` readable when it has again: the pool then collects results meanwhile, or
        sleeps until `wake` when it has none to wait for, and draws again.
        """
        pending: deque[tuple[object, memoryview]] = deque()
        source = iter(tasks)
        exhausted = False
        try:
            while True:
                idle = False
                while not (exhausted or idle) and self._wants_more(pending):
                    try:
                        task = next(source)
                    except StopIteration:
                        exhausted = True
                    else:
                        if isinstance(task, Idle):
                            idle = True
                        else:
                            pending.append((task, ForkingPickler.dumps(task)))
                if pending and not self._workers:
                    raise RuntimeError("IsolatedPool must be used as a context manager")
                self._dispatch(pending)
                busy = [w for w in self._workers if w.tasks]
                if not busy:
                    if exhausted and not pending:
                        return
                    if idle:
                        if wake is None:
                            raise RuntimeError("a task source that yields IDLE needs `wake`")
                        wait([wake])
                    continue
                # A new task matters only to a source that had none (else `wake` stays readable
                # and would end every wait at once).
                yield from self._collect(busy, pending, wake if idle else None)
        finally:
            # Left early (the caller stopped, or failed): answers still on their way would be
            # taken for those of the next call's tasks. Those workers go; fresh ones replace them.
            for worker in self._workers:
                if worker.tasks:
                    self._kill(worker)
                    worker.tasks.clear()
                    worker.dead = True

    def _collect(
        self,
        busy: list[_Worker],
        pending: deque[tuple[object, memoryview]],
        wake: Waitable | None = None,
    ) -> Iterator[tuple[T, R | TutelaError]]:
        """Wait for the first answer, deadline or `wake`; yield what came. A worker that crashed
        or ran out of time is replaced, and the tasks it was sent ahead go back to `pending`."""
        timeout = self._limits.decode_timeout_s
        next_deadline = min(w.started + timeout for w in busy)
        waited: list[Waitable] = [w.conn for w in busy]
        if wake is not None:
            waited.append(wake)
        ready = wait(waited, timeout=max(0.0, next_deadline - time.monotonic()))
        for worker in busy:
            if worker.conn in ready:
                try:
                    result: R | TutelaError = worker.conn.recv()
                except (EOFError, OSError):
                    result = CorruptMedia("the decoder crashed on this file")
                    yield self._fail(worker, pending), result
                    continue
                task: T = worker.tasks.popleft()[0]  # type: ignore[assignment]
                worker.started = time.monotonic()  # the task sent ahead starts now
                yield task, result
            elif time.monotonic() - worker.started >= timeout:
                error = DecodeTimeout(f"decoding took longer than {timeout:g} s")
                yield self._fail(worker, pending), error

    def _fail(self, worker: _Worker, pending: deque[tuple[object, memoryview]]) -> T:
        """The task `worker` was on when it failed; it is replaced, its other tasks re-queued."""
        task: T = worker.tasks.popleft()[0]  # type: ignore[assignment]
        pending.extendleft(reversed(worker.tasks))
        worker.tasks.clear()
        self._replace(worker)
        return task
