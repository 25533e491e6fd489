"""Signal types found through the `tutela.signal_types` entry points (built-ins register there too)."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from tutela.errors import ConfigurationError, InvalidInput
from tutela.signals.base import SignalType

ENTRY_POINT_GROUP = "tutela.signal_types"


@cache
def signal_types() -> dict[str, type[SignalType]]:
    """All registered signal types by their stable name; checked for clashes once per process."""
    found: dict[str, type[SignalType]] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        cls = point.load()
        if not (isinstance(cls, type) and issubclass(cls, SignalType)):
            raise ConfigurationError(f"entry point {point.value} is not a SignalType")
        if cls.name != point.name:
            raise ConfigurationError(
                f"entry point {point.name!r} names a signal type called {cls.name!r}"
            )
        if point.name in found and found[point.name] is not cls:
            raise ConfigurationError(f"two plug-ins register the signal type {point.name!r}")
        found[point.name] = cls
    return found


def get_signal_type(name: str) -> type[SignalType]:
    try:
        return signal_types()[name]
    except KeyError:
        known = ", ".join(sorted(signal_types()))
        raise InvalidInput(f"unknown signal type {name!r}; known: {known}") from None
