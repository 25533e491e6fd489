"""Signal types found through the `tutela.signal_types` entry points (built-ins register there too)."""

from __future__ import annotations

from functools import cache

from tutela.errors import InvalidInput
from tutela.plugins import load_plugins
from tutela.signals.base import SignalType

ENTRY_POINT_GROUP = "tutela.signal_types"


@cache
def signal_types() -> dict[str, type[SignalType]]:
    """All registered signal types by their stable name; checked for clashes once per process."""
    return load_plugins(ENTRY_POINT_GROUP, SignalType, "signal type")


def get_signal_type(name: str) -> type[SignalType]:
    try:
        return signal_types()[name]
    except KeyError:
        known = ", ".join(sorted(signal_types()))
        raise InvalidInput(f"unknown signal type {name!r}; known: {known}") from None
