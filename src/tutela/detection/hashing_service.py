"""One isolated hashing pool shared by every request of the API: `await service.hash(data)`.

A thread drives the pool (tutela.detection.hasher.Hasher) for as long as the service runs,
feeding it from a queue that requests fill; results go back to each request's event loop. The
pool sends work ahead to busy processes, so files from many requests keep every hashing process
busy, which a lock around one call per request would not.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import queue
import socket
import threading
from collections.abc import Iterator
from typing import Self

from tutela.detection.hasher import Hasher, Task
from tutela.errors import ConfigurationError, TutelaError
from tutela.media.isolation import IDLE, Idle
from tutela.signals.hashing import MediaSignals

Result = MediaSignals | TutelaError
_Waiter = tuple[asyncio.AbstractEventLoop, asyncio.Future[Result]]


class HashingService:
    """Hash uploads for many concurrent requests on one Hasher (which it enters and leaves)."""

    def __init__(self, hasher: Hasher) -> None:
        self._hasher = hasher
        self._inbox: queue.SimpleQueue[Task | None] = queue.SimpleQueue()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._tickets = itertools.count()
        self._waiters: dict[int, _Waiter] = {}
        self._lock = threading.Lock()  # guards _waiters and _broken together
        self._broken: TutelaError | None = None
        self._thread = threading.Thread(target=self._run, name="hashing-service", daemon=True)

    def __enter__(self) -> Self:
        self._hasher.__enter__()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Hash what was submitted, then stop."""
        self._inbox.put(None)
        self._wake_write.send(b"\0")
        self._thread.join()
        self._hasher.__exit__(*exc)
        self._wake_read.close()
        self._wake_write.close()

    @property
    def working(self) -> bool:
        """False once the pool broke (a hashing process could not be started again)."""
        return self._broken is None

    @property
    def waiting(self) -> int:
        """Uploads submitted and not yet answered (being hashed, or queued for it)."""
        return len(self._waiters)

    async def hash(self, data: bytes) -> Result:
        """The upload's signals, or the media error its decoding gave (a hostile file costs one
        hashing process, replaced). Raises ConfigurationError if the pool itself broke."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        ticket = next(self._tickets)
        with self._lock:
            if self._broken is not None:
                raise self._broken
            self._waiters[ticket] = (loop, future)
        self._inbox.put((ticket, data))
        self._wake_write.send(b"\0")
        try:
            return await future
        finally:
            # A request that gave up (its client went away) leaves no entry; its file is still
            # hashed, and the answer dropped.
            with self._lock:
                self._waiters.pop(ticket, None)

    def _tasks(self) -> Iterator[Task | Idle]:
        while True:
            try:
                while self._wake_read.recv(4096):
                    pass
            except BlockingIOError:
                pass
            try:
                task = self._inbox.get_nowait()
            except queue.Empty:
                yield IDLE
                continue
            if task is None:
                return
            yield task

    def _run(self) -> None:
        try:
            for ticket, result in self._hasher.hash_many(self._tasks(), wake=self._wake_read):
                with self._lock:
                    waiter = self._waiters.get(ticket)
                if waiter is not None:
                    _settle(waiter, result)
        except BaseException as error:  # the pool could not replace a process: fail everyone
            broken = (
                error
                if isinstance(error, TutelaError)
                else ConfigurationError(f"the hashing pool stopped ({type(error).__name__})")
            )
            with self._lock:
                self._broken = broken
                waiters = list(self._waiters.values())
            for waiter in waiters:
                _settle(waiter, None, broken)


def _settle(waiter: _Waiter, result: Result | None, error: TutelaError | None = None) -> None:
    """Answer a waiting request on its own event loop: `result`, or `error` raised there."""
    loop, future = waiter

    def settle() -> None:
        if future.done():  # cancelled: its request went away
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    with contextlib.suppress(RuntimeError):  # its event loop has closed: nobody waits any more
        loop.call_soon_threadsafe(settle)
