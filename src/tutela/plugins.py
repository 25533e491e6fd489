"""Plug-ins found through `importlib.metadata` entry points; built-ins register the same way.

Each plug-in class carries an explicit, stable `name` (a storage key, never derived from the class
name); the entry point must use that name, and two plug-ins may not claim one name.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from tutela.errors import ConfigurationError


def load_plugins(group: str, base: type, kind: str) -> dict[str, type[Any]]:
    """Every class registered under `group` by its `name`, checked to subclass `base`.

    (`base` is untyped because the plug-in bases are abstract, which mypy will not accept as a
    `type[T]` argument; callers state the precise type of what they get back.)"""
    found: dict[str, type[Any]] = {}
    for point in entry_points(group=group):
        cls = point.load()
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise ConfigurationError(f"entry point {point.value} is not a {kind}")
        name = getattr(cls, "name", None)
        if name != point.name:
            raise ConfigurationError(
                f"{kind} {cls.__name__} is named {name!r} but registered as {point.name!r}"
            )
        if point.name in found and found[point.name] is not cls:
            raise ConfigurationError(f"two plug-ins register the {kind} {point.name!r}")
        found[point.name] = cls
    return found
