"""Run decoding work in worker processes with a memory cap and a wall-clock limit per task.

A hostile file may hang or blow up a decoder; here it costs one worker (killed and replaced) and the
task gets a typed error, while the node goes on.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Generic, TypeVar

from tutela.errors import CorruptMedia, DecodeTimeout, MediaTooLarge, TutelaError
from tutela.media.limits import MediaLimits

T = TypeVar("T")
R = TypeVar("R")


def _worker_main(func: Callable[[T], R], conn: Connection, memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
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
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self._workers:
            try:
                worker.conn.send(None)
            except OSError:
                pass
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

    def _replace(self, worker: _Worker) -> None:
        worker.process.kill()
        worker.process.join()
        worker.conn.close()
        self._workers[self._workers.index(worker)] = self._spawn()

    def map_unordered(self, tasks: Iterable[T]) -> Iterator[tuple[T, R | TutelaError]]:
        """Yield (task, result or TutelaError) as tasks finish, in completion order."""
        if not self._workers:
            raise RuntimeError("IsolatedPool must be used as a context manager")
        pending: deque[T] = deque()
        source = iter(tasks)
        exhausted = False
        while True:
            while not exhausted and len(pending) < self._size:
                try:
                    pending.append(next(source))
                except StopIteration:
                    exhausted = True
            for worker in self._workers:
                if not worker.busy and pending:
                    worker.task = pending.popleft()
                    worker.started = time.monotonic()
                    worker.busy = True
                    worker.conn.send(worker.task)
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
