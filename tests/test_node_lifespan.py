"""The one lifespan of the nodes' apps (tutela.api.lifespan): warm steps before the first request,
held resources entered in order and left in reverse, the heap frozen while serving, and the
database closed last, only when the app owns it."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from tutela.api.lifespan import Held, node_lifespan, running


class FakeDatabase:
    def __init__(self, events: list[str]) -> None:
        self._events = events

    def close(self) -> None:
        self._events.append("database closed")


class Thread:
    def __init__(self, events: list[str]) -> None:
        self._events = events

    def start(self) -> None:
        self._events.append("thread started")

    def stop(self) -> None:
        self._events.append("thread stopped")


def holding(name: str, events: list[str]) -> Held:
    @asynccontextmanager
    async def hold(app: FastAPI) -> AsyncIterator[None]:
        events.append(f"{name} entered")
        setattr(app.state, name, True)
        try:
            yield
        finally:
            events.append(f"{name} left")

    return hold


def served(lifespan: object, events: list[str]) -> None:
    app = FastAPI(lifespan=lifespan)  # type: ignore[arg-type]

    @app.get("/")
    async def root() -> dict[str, bool]:
        events.append(f"request (heap frozen: {gc.get_freeze_count() > 0})")
        return {"first": bool(app.state.first), "second": bool(app.state.second)}

    async def run() -> None:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
                answer = await client.get("/")
        assert answer.json() == {"first": True, "second": True}

    asyncio.run(run())


@pytest.mark.parametrize("owns", [True, False])
def test_warm_then_held_in_order_left_in_reverse_and_the_owned_database_closed_last(
    owns: bool,
) -> None:
    events: list[str] = []
    database = FakeDatabase(events)
    lifespan = node_lifespan(
        database,  # type: ignore[arg-type]
        owns_database=owns,
        warm=[lambda: events.append("warmed")],
        held=[holding("first", events), holding("second", events)],
    )
    served(lifespan, events)
    assert events == [
        "warmed",
        "first entered",
        "second entered",
        "request (heap frozen: True)",
        "second left",
        "first left",
        *(["database closed"] if owns else []),
    ]
    assert gc.get_freeze_count() == 0


def test_a_failing_warm_step_still_closes_the_owned_database() -> None:
    events: list[str] = []

    def fail() -> None:
        raise RuntimeError("no matcher")

    lifespan = node_lifespan(FakeDatabase(events), owns_database=True, warm=[fail])  # type: ignore[arg-type]
    app = FastAPI(lifespan=lifespan)

    async def start() -> None:
        async with app.router.lifespan_context(app):
            pass

    with pytest.raises(RuntimeError, match="no matcher"):
        asyncio.run(start())
    assert events == ["database closed"]


def test_a_background_thread_runs_while_held() -> None:
    events: list[str] = []

    def thread_part(_app: FastAPI) -> AbstractAsyncContextManager[None]:
        return running(Thread(events))

    lifespan = node_lifespan(
        FakeDatabase(events),  # type: ignore[arg-type]
        owns_database=False,
        held=[holding("first", events), thread_part, holding("second", events)],
    )
    served(lifespan, events)
    assert events == [
        "first entered",
        "thread started",
        "second entered",
        "request (heap frozen: True)",
        "second left",
        "thread stopped",
        "first left",
    ]
