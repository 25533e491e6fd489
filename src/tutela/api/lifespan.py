"""The one lifespan of every node's app (provider, centre, authority): what the node warms in a
worker thread before it takes a request, the resources it holds while it serves (entered in
order, left in reverse), the heap frozen for the time it serves (tutela.process), and the
database closed last when the app owns it. Each app names only what is its own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Protocol

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from tutela.db.database import Database
from tutela.process import startup_heap_frozen

# A resource the app holds while it serves: entered at start-up (the app at hand, to put what it
# built on `app.state`), left at shut-down.
Held = Callable[[FastAPI], AbstractAsyncContextManager[None]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


class Background(Protocol):
    """A thread that follows something while the app serves (e.g. the matcher's refresher)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


def node_lifespan(
    database: Database,
    *,
    owns_database: bool,
    warm: Sequence[Callable[[], object]] = (),
    held: Sequence[Held] = (),
) -> Lifespan:
    """The lifespan of a node's app: `warm` steps run one after another in a worker thread
    (loading the matcher, the linker's index), then each of `held` is entered in order; the app
    serves with its start-up heap frozen; on the way out they are left in reverse order and the
    database, when `owns_database`, is closed last."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if owns_database:
                stack.callback(database.close)
            for step in warm:
                await run_in_threadpool(step)
            for resource in held:
                await stack.enter_async_context(resource(app))
            with startup_heap_frozen():
                yield

    return lifespan


def running(thread: Background) -> AbstractAsyncContextManager[None]:
    """`thread` started on entry and stopped (in a worker thread: stopping joins it) on exit."""

    @asynccontextmanager
    async def run() -> AsyncIterator[None]:
        thread.start()
        try:
            yield
        finally:
            await run_in_threadpool(thread.stop)

    return run()
