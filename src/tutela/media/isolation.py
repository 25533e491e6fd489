"""Run decoding work in worker processes with a memory cap and a wall-clock limit per task.

A hostile file may hang or blow up a decoder; here it costs one worker (killed and replaced) and the
task gets a typed error, while the node goes on.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import multiprocessing as mp
import os
import resource
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import ForkingPickler
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from tutela.errors import (
    ConfigurationError,
    CorruptMedia,
    DecodeTimeout,
    MediaTooLarge,
    TutelaError,
)
from tutela.media.limits import MediaLimits

if TYPE_CHECKING:  # asyncio is imported by LoopPool's users: a CLI parent need not load it
    import asyncio

T = TypeVar("T")
R = TypeVar("R")

# A worker says so once it has imported everything and set its limits. Until then it gets no task:
# a task's clock must not run while a fresh worker is still importing numpy and Pillow, or on a busy
# machine a short timeout would fail good files after every replacement.
_READY = "ready"
_BOOT_TIMEOUT_S = 60.0
_NO_START = "a decoding worker failed to start; check TUTELA_WORKER_MEMORY_BYTES and the install"
# A worker is sent its next tasks while it still works on one, so that it never waits for the
# parent between tasks, however late the parent (a busy API process) comes back to it: up to
# AHEAD_TASKS of them, together at most AHEAD_BYTES pickled, which the socket (about 208 KiB)
# holds without making the send wait for the worker to read; a bigger task goes only to a worker
# that is free.
AHEAD_BYTES = 160 * 1024
AHEAD_TASKS = 8
# glibc's malloc gives freed memory at the top of its heap back to the system once more than a
# threshold is free there, and adapts that threshold (and the size from which it maps blocks of
# their own) to what the process happened to free first. A worker decodes file after file, each
# needing the same few buffers; where the thresholds stayed low (the API's hashing processes, not
# the bench's), every file grew the heap and gave it back: three brk calls and about 120 page faults
# of fresh zeroed memory per 640×480 file, a sixth of the worker's time. Fixed thresholds keep what
# one file needed for the next.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_KEEP_FREE_BYTES = 64 * 1024 * 1024
_MAP_FROM_BYTES = 32 * 1024 * 1024


def _keep_heap_between_tasks() -> None:
    """Fix glibc's trim and mmap thresholds (a C library without mallopt is left as it is)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, _MAP_FROM_BYTES)
    mallopt(_M_TRIM_THRESHOLD, _KEEP_FREE_BYTES)


def _address_space_bytes() -> int:
    """This process's virtual memory size (what RLIMIT_AS counts); 0 where it cannot be read."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * resource.getpagesize()


def _worker_main(
    func: Callable[[T], R], conn: Connection, memory_bytes: int, preload: tuple[str, ...] = ()
) -> None:
    for module in preload:  # before the limits and before "ready": no task's clock runs yet
        importlib.import_module(module)
    _keep_heap_between_tasks()
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
    ready: bool = True  # it said so (a LoopPool's worker is sent nothing before)


class IsolatedPool(Generic[T, R]):
    """A pool of worker processes applying `func` (a picklable top-level function) to tasks.

    `func` may raise TutelaError; that error is the task's result. A worker that runs past
    `limits.decode_timeout_s` on a task is killed (DecodeTimeout); one that dies is replaced
    (CorruptMedia). The task a worker was sent ahead goes to another one, unharmed.

    Each worker imports the modules named in `preload` before it takes a task: a `func` whose
    module is light (so that the parent need not import numpy and Pillow to name it) has its
    heavy imports done there, outside any task's time limit. `fork=True` forks the workers from
    the caller instead of spawning them, for a caller that runs no other thread.
    """

    def __init__(
        self,
        func: Callable[[T], R],
        *,
        workers: int,
        limits: MediaLimits,
        timeout_of: Callable[[T], float] | None = None,
        preload: tuple[str, ...] = (),
        fork: bool = False,
    ) -> None:
        self._func = func
        self._preload = preload
        self._size = max(1, workers)
        self._limits = limits
        # A task's time limit: limits.decode_timeout_s unless the caller says more (a video).
        self._timeout_of = timeout_of
        # Workers are spawned (a fresh interpreter) unless the caller asks them forked and runs no
        # other thread (a thread holding a lock at the fork would leave it held in the worker for
        # ever); a fork spares a second interpreter start and multiprocessing's resource tracker.
        # A forked worker also keeps the caller's address space, which counts against its memory
        # cap: a caller that has grown large (a long-lived process with big libraries loaded)
        # would leave its workers too little, so it spawns them too.
        alone = threading.active_count() == 1
        small = _address_space_bytes() <= limits.worker_memory_bytes // 4
        forkable = fork and alone and small and "fork" in mp.get_all_start_methods()
        self._context = mp.get_context("fork") if forkable else mp.get_context("spawn")
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
        # A forked worker would otherwise write out again what the caller had buffered.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_worker_main,
            args=(self._func, child, self._limits.worker_memory_bytes, self._preload),
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
        raise ConfigurationError(_NO_START)

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
        return self._took(worker, item)

    def _took(self, worker: _Worker, item: tuple[object, memoryview]) -> _Worker:
        """`worker` was sent `item`: its clock starts now when it was free."""
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
                if len(worker.tasks) >= depth or not worker.ready:
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

    def map_unordered(self, tasks: Iterable[T]) -> Iterator[tuple[T, R | TutelaError]]:
        """Yield (task, result or TutelaError) as tasks finish, in completion order. `tasks` is
        drawn lazily, only as workers become free; with no task, no worker is needed."""
        pending: deque[tuple[object, memoryview]] = deque()
        source = iter(tasks)
        exhausted = False
        try:
            while True:
                while not exhausted and self._wants_more(pending):
                    try:
                        task = next(source)
                    except StopIteration:
                        exhausted = True
                    else:
                        pending.append((task, ForkingPickler.dumps(task)))
                if pending and not self._workers:
                    raise RuntimeError("IsolatedPool must be used as a context manager")
                self._dispatch(pending)
                busy = [w for w in self._workers if w.tasks]
                if not busy:
                    if exhausted and not pending:
                        return
                    continue
                yield from self._collect(busy, pending)
        finally:
            # Left early (the caller stopped, or failed): answers still on their way would be
            # taken for those of the next call's tasks. Those workers go; fresh ones replace them.
            for worker in self._workers:
                if worker.tasks:
                    self._kill(worker)
                    worker.tasks.clear()
                    worker.dead = True

    def _collect(
        self, busy: list[_Worker], pending: deque[tuple[object, memoryview]]
    ) -> Iterator[tuple[T, R | TutelaError]]:
        """Wait for the first answer or deadline; yield what came. A worker that crashed or ran
        out of time is replaced, and the tasks it was sent ahead go back to `pending`."""
        next_deadline = min(w.started + self._timeout(w) for w in busy)
        ready = wait([w.conn for w in busy], timeout=max(0.0, next_deadline - time.monotonic()))
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
            elif time.monotonic() - worker.started >= (timeout := self._timeout(worker)):
                error = DecodeTimeout(f"decoding took longer than {timeout:g} s")
                yield self._fail(worker, pending), error

    def _timeout(self, worker: _Worker) -> float:
        """The time limit of the task `worker` is on."""
        if self._timeout_of is None:
            return self._limits.decode_timeout_s
        task: T = worker.tasks[0][0]  # type: ignore[assignment]
        return self._timeout_of(task)

    def _fail(self, worker: _Worker, pending: deque[tuple[object, memoryview]]) -> T:
        """The task `worker` was on when it failed; it is replaced, its other tasks re-queued."""
        task: T = worker.tasks.popleft()[0]  # type: ignore[assignment]
        pending.extendleft(reversed(worker.tasks))
        worker.tasks.clear()
        self._replace(worker)
        return task


# How often a LoopPool looks for a task past its time (a timeout is that much late at most).
DEADLINE_CHECK_S = 0.25


class LoopPool(IsolatedPool[T, R]):
    """The pool driven by the running asyncio event loop instead of a thread of its caller:
    `await pool.run(task)` from any number of requests at once.

    The loop sends tasks and reads each answer as it comes, so no thread is woken per file; tasks
    run past their time are found every DEADLINE_CHECK_S; a worker that dies or runs out of time
    is replaced without the loop waiting for the new one to boot. Sending a task too big to go
    ahead holds the loop while the (free) worker reads it. Should a replacement fail to start,
    the pool is broken: every task waiting, and every later one, gets the ConfigurationError.
    """

    def __init__(self, func: Callable[[T], R], *, workers: int, limits: MediaLimits) -> None:
        super().__init__(func, workers=workers, limits=limits)
        self._pending: deque[tuple[object, memoryview]] = deque()
        self._broken: TutelaError | None = None
        # Workers starting, each with whether it came up (False: the pool broke meanwhile).
        self._booting: dict[_Worker, asyncio.Future[bool]] = {}
        self._watch: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> LoopPool[T, R]:
        self._workers = [self._start() for _ in range(self._size)]
        import asyncio

        if not all(await asyncio.gather(*self._booting.values())):
            self.__exit__()
            raise self._broken or ConfigurationError(_NO_START)
        self._watch = _running_loop().call_later(DEADLINE_CHECK_S, self._check)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._watch is not None:
            self._watch.cancel()
        self._break(ConfigurationError("the node is shutting down"))
        await _running_loop().run_in_executor(None, self.__exit__)

    @property
    def working(self) -> bool:
        """False once broken (a worker could not be started again)."""
        return self._broken is None

    @property
    def waiting(self) -> int:
        """Tasks given and not answered (being worked on, sent ahead, or not sent yet)."""
        return len(self._pending) + sum(len(worker.tasks) for worker in self._workers)

    async def run(self, task: T) -> R | TutelaError:
        """The task's result, or the TutelaError it gave (a hostile file costs one worker)."""
        if self._broken is not None:
            raise self._broken
        answer: asyncio.Future[R | TutelaError] = _running_loop().create_future()
        self._pending.append(((answer, task), ForkingPickler.dumps(task)))
        self._dispatch(self._pending)
        return await answer

    def _start(self) -> _Worker:
        """A fresh worker, read by the loop; it gets tasks once it says it is ready."""
        try:
            worker = self._spawn()
        except Exception as error:  # no process to be had (limits, memory): the pool is broken
            broken = ConfigurationError(f"{_NO_START} ({type(error).__name__})")
            self._break(broken)
            raise broken from error
        worker.ready = False
        worker.started = time.monotonic()
        self._booting[worker] = _running_loop().create_future()
        _running_loop().add_reader(worker.conn.fileno(), self._on_readable, worker)
        # uvloop makes a watched socket non-blocking; the connection's framing needs whole
        # writes (a send cut short would leave the worker a garbled stream).
        os.set_blocking(worker.conn.fileno(), True)
        return worker

    def _send(self, worker: _Worker, item: tuple[object, memoryview]) -> _Worker | None:
        """As IsolatedPool's, but never waits for a fresh worker: a worker found dead when sent a
        task is replaced (or, busy, left to its reader) and the task stays pending."""
        try:
            worker.conn.send_bytes(item[1])
        except (OSError, ValueError):
            if not worker.tasks:
                self._replace(worker)
            return None
        return self._took(worker, item)

    def _replace(self, worker: _Worker) -> _Worker:
        _running_loop().remove_reader(worker.conn.fileno())
        self._kill(worker)
        self._booting.pop(worker, None)
        fresh = self._start()
        self._workers[self._workers.index(worker)] = fresh
        return fresh

    def _on_readable(self, worker: _Worker) -> None:
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):
            if not worker.ready:
                self._break(ConfigurationError(_NO_START))
            elif worker.tasks:
                self._lose(worker, CorruptMedia("the decoder crashed on this file"))
            else:  # it died idle (killed from outside): no task lost, a fresh one takes its place
                self._replace(worker)
                self._dispatch(self._pending)
            return
        if not worker.ready:
            worker.ready = message == _READY
            worker.started = time.monotonic()  # a task sent while it booted starts now
            if not worker.ready:
                self._break(ConfigurationError(_NO_START))
                return
            _settle(self._booting.pop(worker), True)
        else:
            entry = worker.tasks.popleft()[0]
            worker.started = time.monotonic()  # the task sent ahead starts now
            _settle(entry[0], message)  # type: ignore[index]
        self._dispatch(self._pending)

    def _lose(self, worker: _Worker, error: TutelaError) -> None:
        """The task `worker` was on gets `error`; it is replaced, the tasks it held go again."""
        entry = worker.tasks.popleft()[0]
        self._pending.extendleft(reversed(worker.tasks))
        worker.tasks.clear()
        _settle(entry[0], error)  # type: ignore[index]
        self._replace(worker)
        self._dispatch(self._pending)

    def _check(self) -> None:
        now = time.monotonic()
        timeout = self._limits.decode_timeout_s
        for worker in list(self._workers):
            if not worker.ready and now - worker.started > _BOOT_TIMEOUT_S:
                self._break(ConfigurationError(_NO_START))
            elif worker.ready and worker.tasks and now - worker.started >= timeout:
                self._lose(worker, DecodeTimeout(f"decoding took longer than {timeout:g} s"))
        if self._broken is None:
            self._watch = _running_loop().call_later(DEADLINE_CHECK_S, self._check)

    def _break(self, error: TutelaError) -> None:
        """Fail every task not answered, and every later one, with `error`; stop reading the
        workers (a dead one would be readable for ever)."""
        if self._broken is None:
            self._broken = error
        loop = _running_loop()
        for worker in self._workers:
            loop.remove_reader(worker.conn.fileno())
        entries = [entry for entry, _ in self._pending]
        entries += [entry for worker in self._workers for entry, _ in worker.tasks]
        self._pending.clear()
        for worker in self._workers:
            worker.tasks.clear()
        for entry in entries:
            _fail(entry[0], error)  # type: ignore[index]
        for booting in self._booting.values():
            _settle(booting, False)
        self._booting.clear()


def _running_loop() -> asyncio.AbstractEventLoop:
    import asyncio

    return asyncio.get_running_loop()


def _settle(future: asyncio.Future[Any], value: object) -> None:
    if not future.done():  # a request that went away cancelled its wait
        future.set_result(value)


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
