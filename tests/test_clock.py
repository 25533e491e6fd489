"""One clock (issue 13): the time comes from tutela.clock, and nothing else in the package reads
the machine's wall clock."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

import tutela
from tutela.clock import FixedClock, SystemClock, utc_now

SOURCE = Path(tutela.__file__).parent
# Reads of the wall clock; monotonic timers measure durations, not the time, and stay.
WALL_CLOCK_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today")}


def test_utc_now_is_an_aware_utc_time_and_the_system_clocks() -> None:
    before = utc_now()
    told = SystemClock().now()
    assert before.tzinfo is UTC and told.tzinfo is UTC
    assert before <= told <= utc_now()


def test_a_fixed_clock_stands_still_until_set_or_advanced() -> None:
    at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    clock = FixedClock(at)
    assert clock.now() == clock.now() == at
    assert clock.advance(timedelta(minutes=5)) == clock.now() == at + timedelta(minutes=5)
    clock.set(datetime(2030, 1, 2, 5, 0, tzinfo=timezone(timedelta(hours=2))))
    assert clock.now() == datetime(2030, 1, 2, 3, 0, tzinfo=UTC)
    assert clock.now().tzinfo is UTC


def test_a_clock_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError):
        FixedClock(datetime(2030, 1, 1))
    clock = FixedClock(utc_now())
    with pytest.raises(ValueError):
        clock.set(datetime(2030, 1, 1))


def wall_clock_reads(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", None)
        if (name, node.func.attr) in WALL_CLOCK_CALLS:
            found.append(f"{path.relative_to(SOURCE)}:{node.lineno}")
    return found


def test_only_tutela_clock_reads_the_wall_clock() -> None:
    # Migrations are frozen history: they keep the code they were written with.
    modules = [
        path
        for path in SOURCE.rglob("*.py")
        if path != SOURCE / "clock.py" and "migrations" not in path.parts
    ]
    assert [read for path in modules for read in wall_clock_reads(path)] == []
